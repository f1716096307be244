"""``stylize bench quality``: did the style arrive, at every depth? Figures per pair, a sheet.

Each pair runs as a job would (the defaults unless overridden), the result goes through a PNG
round trip as it would in storage, and is measured twice: by the job's own yardstick
(``style_ratio``, ``content_ratio`` at the job's layers, ``worker/engine/quality.py``) and by
one that no job parameter can tilt (``bench/style_metrics.py``: each classic layer's Gram ratio
and their geometric mean, sliced Wasserstein ratios, chroma drift, the frame).

With a reference configuration (``--against NAME=VALUE``: the tested job with those overrides;
``--against-legacy``: the default before coarse-to-fine at the same size, with any ``--against``
on it and none of the tested job's ``--param``), each pair runs with it first, then with the
configuration under test, whose previews are measured as it goes: ``seconds_to_reference`` is
how long (measurements left out) it took to reach the reference's final Gram and sliced
Wasserstein geometric means.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench.style_metrics import StyleMetrics, Yardstick
from shared.images import decode_image, encode_image, read_image
from shared.levels import fit_size, output_size
from shared.params import JobParams
from worker.engine import EngineResult, StyleEngine
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
# The default job before coarse-to-fine (2026-11-25): one scale, Gram matrices at style_weight
# 3e-4, zero padding, the last iterate, colours unbounded, no Laplacian, palette or second
# Gram loss.
LEGACY_DEFAULT: dict[str, Any] = {
    "scales": 1,
    "style_loss": "gram",
    "style_weight": 3e-4,
    "laplacian_weight": 0.0,
    "palette_weight": 0.0,
    "gram_weight": 0.0,
    "style_layer_weights": None,
    "edge_padding": "zero",
    "limit_chroma": False,
    "iterate_average": 0.0,
    "grid_jitter": 0,
}
ROW_HEIGHT = 192
CAPTION_HEIGHT = 32
CHECKS = 20  # measurements of the previews on the way to the reference's quality


@dataclass(frozen=True)
class Reference:
    """The configuration each pair runs with first, the tested one's time to quality measured
    to it: the tested job with ``overrides``, or (``legacy``) the legacy default at the tested
    job's size with ``overrides`` and nothing else of the tested job's, so that a parameter
    the legacy default predates cannot leak into it."""

    overrides: dict[str, Any]
    legacy: bool = False

    def params(self, tested: JobParams) -> JobParams:
        """The reference job beside ``tested``."""
        if self.legacy:
            base = {"max_size": tested.max_size, "preview_every": 0, **LEGACY_DEFAULT}
        else:
            base = tested.model_dump()
        return JobParams(**{**base, **self.overrides})


@dataclass(frozen=True)
class PairQuality:
    """One pair at one size under one configuration."""

    content: str
    style: str
    size: int
    config: str
    seconds: float
    iterations: int
    style_ratio: float
    content_ratio: float
    metrics: StyleMetrics
    seconds_to_reference: float | None = None
    first_preview_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """For ``--json``: one line per pair and configuration. The yardstick's content ratio
        (VGG16 as it is) is ``yardstick_content_ratio``; ``content_ratio`` is the job's own."""
        yardstick = self.metrics.as_dict()
        yardstick["yardstick_content_ratio"] = yardstick.pop("content_ratio")
        return {
            **{k: v for k, v in self.__dict__.items() if k != "metrics"},
            "seconds": round(self.seconds, 1),
            **yardstick,
        }


def enlarged(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` enlarged (bicubic) so that its longest side is ``size`` when it is smaller:
    the examples are 512 px, and a job never enlarges its content itself."""
    if max(image.shape[:2]) >= size:
        return image
    return to_uint8(resize(image, fit_size(*image.shape[:2], size)))


def example_pairs() -> list[tuple[Path, Path]]:
    """The examples' pairs as paths."""
    return [(EXAMPLES / content, EXAMPLES / style) for content, style in EXAMPLE_PAIRS]


def yardstick_for(
    engine: StyleEngine, content: np.ndarray, style: np.ndarray, params: JobParams
) -> Yardstick:
    """The fixed yardstick at the job's output size, the style as the job sees it there."""
    size = output_size(content.shape[:2], params)
    content_l, styles_l = engine.level_inputs(content, [style], params, size)
    return Yardstick(engine, content_l, styles_l[0])


@dataclass
class Run:
    """A finished run: its result, its saved picture, and the timings the bench adds."""

    result: EngineResult
    saved: np.ndarray
    seconds_to_target: float | None
    first_preview_s: float | None
    measuring_s: float = 0.0  # spent measuring previews, inside the result's seconds


def timed_run(
    engine: StyleEngine,
    content: np.ndarray,
    style: np.ndarray,
    params: JobParams,
    yardstick: Yardstick,
    target: StyleMetrics | None,
) -> Run:
    """Run one job; with a ``target``, measure previews on the way and note when the picture
    first reached it (the measuring time left out of every figure)."""
    if target is None:
        result = engine.run(content, [style], params)
        return Run(result, decode_image(encode_image(result.image, "png")), None, None)
    params = params.model_copy(update={"preview_every": max(1, params.iterations // CHECKS)})
    clock = {"measuring": 0.0, "reached": None, "first": None}
    started = time.perf_counter()

    def on_preview(_iteration: int, image: np.ndarray) -> None:
        began = time.perf_counter()
        clock["first"] = clock["first"] or began - started
        if clock["reached"] is None:
            shown = to_uint8(resize(image, yardstick.content.shape[:2]))
            if reaches(yardstick.measure(shown), target):
                clock["reached"] = began - started - clock["measuring"]
        clock["measuring"] += time.perf_counter() - began

    result = engine.run(content, [style], params, on_preview=on_preview)
    saved = decode_image(encode_image(result.image, "png"))
    if clock["reached"] is None and reaches(yardstick.measure(saved), target):
        clock["reached"] = result.seconds - clock["measuring"]
    return Run(result, saved, clock["reached"], clock["first"], clock["measuring"])


def reaches(metrics: StyleMetrics, target: StyleMetrics) -> bool:
    """At least as much of the style as ``target`` by both Gram and sliced Wasserstein."""
    return metrics.gram_geo <= target.gram_geo and metrics.sw_geo <= target.sw_geo


def measure_pair(
    engine: StyleEngine,
    content_path: Path,
    style_path: Path,
    params: JobParams,
    config: str,
    target: StyleMetrics | None = None,
) -> tuple[PairQuality, np.ndarray, np.ndarray, np.ndarray]:
    """Run one pair; its figures on the saved (PNG round-tripped) picture, and the images."""
    content = enlarged(read_image(str(content_path)), params.max_size)
    style = read_image(str(style_path))
    yardstick = yardstick_for(engine, content, style, params)
    run = timed_run(engine, content, style, params, yardstick, target)
    quality = engine.quality(content, [style], params, run.saved)
    row = PairQuality(
        content=content_path.name,
        style=style_path.name,
        size=params.max_size,
        config=config,
        seconds=run.result.seconds - run.measuring_s,
        iterations=run.result.iterations,
        style_ratio=round(quality.style_ratio, 4),
        content_ratio=round(quality.content_ratio, 4),
        metrics=yardstick.measure(run.saved),
        seconds_to_reference=run.seconds_to_target,
        first_preview_s=run.first_preview_s,
    )
    return row, content, style, run.saved


def run(
    pairs: Sequence[tuple[Path, Path]],
    sizes: Sequence[int],
    overrides: dict[str, Any],
    sheet_dir: Path,
    weights: str | None = None,
    reference: Reference | None = None,
    pictures: Path | None = None,
) -> Iterator[PairQuality]:
    """Measure every pair at every size (with the ``reference`` configuration first, when given),
    yielding rows as they finish; one sheet per size; each picture at full size in
    ``pictures`` when given (to look at it as it is)."""
    engine = StyleEngine.load(weights)
    sheet_dir.mkdir(parents=True, exist_ok=True)
    for size in sizes:
        params = JobParams(**{"max_size": size, "preview_every": 0, **overrides})
        cells = []
        for content_path, style_path in pairs:
            cells_row, target = [], None
            if reference is not None:
                ref_params = reference.params(params)
                ref, content, style, picture = measure_pair(
                    engine, content_path, style_path, ref_params, "reference"
                )
                cells_row.append((picture, caption(ref)))
                keep(pictures, ref, picture)
                target = ref.metrics
                yield ref
            row, content, style, picture = measure_pair(
                engine, content_path, style_path, params, "tested", target
            )
            cells_row.append((picture, caption(row)))
            keep(pictures, row, picture)
            cells.append(sheet_row(content, style, cells_row))
            yield row
        write_png(sheet_dir / f"quality-{size}.png", stack_rows(cells))


def keep(directory: Path | None, row: PairQuality, picture: np.ndarray) -> None:
    """Write ``picture`` as <content>-<size>-<config>.png in ``directory`` (None: nothing)."""
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        name = f"{Path(row.content).stem}-{row.size}-{row.config}.png"
        write_png(directory / name, picture)


def caption(row: PairQuality) -> str:
    """The figures printed under a picture (two lines)."""
    m = row.metrics
    return (
        f"{row.config}: {row.seconds:.0f} s, content {m.content_ratio:.3f}\n"
        f"gram geo {m.gram_geo:.3f}, sw geo {m.sw_geo:.3f}"
    )


def sheet_row(
    content: np.ndarray, style: np.ndarray, pictures: list[tuple[np.ndarray, str]]
) -> np.ndarray:
    """content | style | each picture at ROW_HEIGHT px, its caption written under it."""
    cells = [(_height(image, ROW_HEIGHT), "") for image in (content, style)]
    cells += [(_height(picture, ROW_HEIGHT), text) for picture, text in pictures]
    gap = np.full((ROW_HEIGHT + CAPTION_HEIGHT, 6, 3), 255, np.uint8)
    columns = []
    for cell, text in cells:
        column = np.full((ROW_HEIGHT + CAPTION_HEIGHT, cell.shape[1], 3), 255, np.uint8)
        column[:ROW_HEIGHT] = cell
        for line, words in enumerate(text.splitlines()):
            cv2.putText(
                column,
                words,
                (2, ROW_HEIGHT + 13 + 14 * line),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.38,
                (0, 0, 0),
                1,
                cv2.LINE_AA,
            )
        columns += [column, gap]
    return np.concatenate(columns[:-1], axis=1)


def stack_rows(rows: list[np.ndarray]) -> np.ndarray:
    """Rows one under the other, padded white on the right to the widest."""
    width = max(row.shape[1] for row in rows)
    padded = [
        np.pad(row, ((0, 6), (0, width - row.shape[1]), (0, 0)), constant_values=255)
        for row in rows
    ]
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
