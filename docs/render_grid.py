"""Render docs/engine-grid.png: content | style | result for the sample pairs in examples/.

.venv/bin/python docs/render_grid.py [--max-size 256] [--param style_weight=1e-2 ...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from shared.images import read_image
from shared.params import JobParams
from worker.engine import StyleEngine

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PAIRS = (("astronaut", "hubble"), ("chelsea", "brick"), ("coffee", "gravel"))
CELL = 192  # height of each picture in the grid, px


def cell(image: np.ndarray) -> Image.Image:
    """``image`` scaled to the grid's row height."""
    pil = Image.fromarray(image)
    return pil.resize((round(pil.width * CELL / pil.height), CELL), Image.Resampling.LANCZOS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-size", type=int, default=256)
    parser.add_argument("--param", action="append", default=[], help="NAME=JSON, e.g. tv_weight=0")
    parser.add_argument("-o", "--out", default=str(Path(__file__).parent / "engine-grid.png"))
    args = parser.parse_args()
    overrides = {k: json.loads(v) for k, v in (p.split("=", 1) for p in args.param)}
    params = JobParams(max_size=args.max_size, **overrides)
    engine = StyleEngine.load()
    rows = []
    for content_name, style_name in PAIRS:
        content = read_image(str(EXAMPLES / f"content-{content_name}.jpg"))
        style = read_image(str(EXAMPLES / f"style-{style_name}.jpg"))
        result = engine.run(content, [style], params)
        print(content_name, style_name, result.initial_losses["total"], result.losses,
              f"{result.seconds:.0f} s")  # fmt: skip
        rows.append([cell(content), cell(style), cell(result.image)])
    width = max(sum(c.width for c in row) for row in rows) + 8 * 2
    grid = Image.new("RGB", (width, len(rows) * (CELL + 8) - 8), "white")
    for y, row in enumerate(rows):
        x = 0
        for picture in row:
            grid.paste(picture, (x, y * (CELL + 8)))
            x += picture.width + 8
    grid.save(args.out, optimize=True)
    print(args.out)


if __name__ == "__main__":
    main()
