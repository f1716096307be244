"""``stylize bench quality``: did the style arrive? Ratios per pair and a contact sheet.

Each pair runs as a job would (the defaults unless overridden), the result goes through a PNG
round trip as it would in storage, and the engine's own VGG16 measures the saved picture:
``style_ratio`` (0 = style matched, 1 = no style arrived) and ``content_ratio`` (0 = content
kept, 1 = as far from it as the style image is). See ``worker/engine/quality.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from shared.images import decode_image, encode_image, read_image
from shared.params import JobParams
from worker.engine import StyleEngine
from worker.engine.imaging import resize, to_uint8

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# The repository's examples: three photo/texture pairs and a photo with a generated
# black-and-white style (bench/patterns.py), the kind that stalled box-bounded L-BFGS.
EXAMPLE_PAIRS = (
    ("content-astronaut.jpg", "style-hubble.jpg"),
    ("content-chelsea.jpg", "style-brick.jpg"),
    ("content-coffee.jpg", "style-gravel.jpg"),
    ("content-camera.jpg", "style-spots.png"),
)
ROW_HEIGHT = 192


@dataclass(frozen=True)
class PairQuality:
    """One pair at one size: how long it took and how far the style arrived."""

    content: str
    style: str
    size: int
    seconds: float
    iterations: int
    style_ratio: float
    content_ratio: float
    style_drop: float

    def as_dict(self) -> dict[str, Any]:
        """For ``--json``: one line per pair."""
        return {**self.__dict__, "seconds": round(self.seconds, 1)}


def example_pairs() -> list[tuple[Path, Path]]:
    """The examples' pairs as paths."""
    return [(EXAMPLES / content, EXAMPLES / style) for content, style in EXAMPLE_PAIRS]


def measure_pair(
    engine: StyleEngine, content_path: Path, style_path: Path, params: JobParams
) -> tuple[PairQuality, np.ndarray, np.ndarray, np.ndarray]:
    """Run one pair; its ratios on the saved (PNG round-tripped) picture, and the images."""
    content, style = read_image(str(content_path)), read_image(str(style_path))
    result = engine.run(content, [style], params)
    saved = decode_image(encode_image(result.image, "png"))
    quality = engine.quality(content, [style], params, saved)
    row = PairQuality(
        content=content_path.name,
        style=style_path.name,
        size=params.max_size,
        seconds=result.seconds,
        iterations=result.iterations,
        style_ratio=round(quality.style_ratio, 4),
        content_ratio=round(quality.content_ratio, 4),
        style_drop=round(quality.style_drop, 4),
    )
    return row, content, style, saved


def run(
    pairs: Sequence[tuple[Path, Path]],
    sizes: Sequence[int],
    overrides: dict[str, Any],
    sheet_dir: Path,
    weights: str | None = None,
) -> Iterator[PairQuality]:
    """Measure every pair at every size, yielding rows as they finish; one sheet per size."""
    engine = StyleEngine.load(weights)
    sheet_dir.mkdir(parents=True, exist_ok=True)
    for size in sizes:
        params = JobParams(**{"max_size": size, "preview_every": 0, **overrides})
        cells = []
        for content_path, style_path in pairs:
            row, content, style, picture = measure_pair(engine, content_path, style_path, params)
            cells.append(sheet_row(content, style, picture, caption(row)))
            yield row
        write_png(sheet_dir / f"quality-{size}.png", stack_rows(cells))


def caption(row: PairQuality) -> str:
    """The figures printed on a sheet row."""
    return (f"style {row.style_ratio:.3f}  content {row.content_ratio:.3f}  "
            f"{row.iterations} it  {row.seconds:.0f} s")  # fmt: skip


def sheet_row(content: np.ndarray, style: np.ndarray, result: np.ndarray, text: str) -> np.ndarray:
    """content | style | result at ROW_HEIGHT px, ``text`` written under the result."""
    cells = [_height(image, ROW_HEIGHT) for image in (content, style, result)]
    gap = np.full((ROW_HEIGHT, 6, 3), 255, np.uint8)
    row = np.concatenate([cells[0], gap, cells[1], gap, cells[2]], axis=1)
    band = np.full((22, row.shape[1], 3), 255, np.uint8)
    cv2.putText(band, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([row, band], axis=0)


def stack_rows(rows: list[np.ndarray]) -> np.ndarray:
    """Rows one under the other, padded white on the right to the widest."""
    width = max(row.shape[1] for row in rows)
    padded = [np.pad(row, ((0, 6), (0, width - row.shape[1]), (0, 0)), constant_values=255)
              for row in rows]  # fmt: skip
    return np.concatenate(padded, axis=0)


def write_png(path: Path, image: np.ndarray) -> None:
    """Save an RGB uint8 image as PNG."""
    path.write_bytes(encode_image(image, "png"))


def _height(image: np.ndarray, height: int) -> np.ndarray:
    """``image`` scaled to exactly ``height`` rows, keeping its aspect."""
    if image.shape[0] == height:
        return image
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    return to_uint8(resize(image, (height, width)))
