"""``stylize bench engine``: how fast the engine gets to a picture, side by side.

Two comparisons at each size, on the astronaut and the Hubble field:

- the compiled step against the seed article's eager Adam loop, with the same maths (the
  legacy default's: one scale, Gram matrices, the last iterate): both use the same VGG16
  weights, layers, loss weights and pair. The baseline is the seed's loop with its bug fixed
  (one image variable, created once): eager Keras, the full conv base called every step,
  keras.optimizers.Adam. The engine runs Adam and L-BFGS, in float32 and bfloat16, each until it
  reaches the baseline's final loss; the picture it stops at is measured again in float32;
- the default job against the legacy default (``bench.quality.LEGACY_DEFAULT``), by the fixed
  yardstick (``bench/style_metrics.py``), since their losses differ: the legacy job runs its
  iterations; the default job's previews are measured as it goes, and
  ``speedup_to_legacy_quality`` is the legacy job's seconds over the default's seconds until its
  picture had as much of the style (Gram and sliced Wasserstein geometric means), the
  measuring left out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from bench.quality import LEGACY_DEFAULT, timed_run, yardstick_for
from shared.images import read_image
from shared.levels import fit_size
from shared.params import JobParams
from worker.engine import Progress, Stop, StyleEngine
from worker.engine.imaging import resize
from worker.engine.losses import gram_matrix, objective

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@dataclass
class Trace:
    """Seconds since start and total loss after each iteration."""

    seconds: list[float]
    losses: list[float]

    def ms_per_iter(self) -> float:
        """Median iteration time, the first (tracing, warm-up) left out when there are others."""
        steps = np.diff(self.seconds) if len(self.seconds) > 1 else self.seconds
        return float(np.median(steps) * 1e3)

    def time_to(self, target: float) -> float | None:
        """Seconds until the loss first reached ``target``; None if it never did."""
        return next(
            (s for s, loss in zip(self.seconds, self.losses, strict=True) if loss <= target), None
        )


def sample_pair(size: int) -> tuple[np.ndarray, np.ndarray]:
    """The astronaut and the Hubble deep field at ``size`` px (longest side)."""
    content = read_image(str(EXAMPLES / "content-astronaut.jpg"))
    style = read_image(str(EXAMPLES / "style-hubble.jpg"))
    content = resize(content, fit_size(*content.shape[:2], size)).astype(np.uint8)
    style = resize(style, fit_size(*style.shape[:2], size)).astype(np.uint8)
    return content, style


def baseline(
    engine: StyleEngine,
    content: np.ndarray,
    style: np.ndarray,
    params: JobParams,
    iterations: int,
    learning_rate: float,
) -> Trace:
    """The seed's loop, fixed: eager, full model each step, Adam on one tf.Variable."""
    import tensorflow as tf

    layers = [*params.content_layers, *params.style_layers]
    vgg = engine.vgg
    model = keras.Model(vgg.input, [vgg.get_layer(n).output for n in layers] + [vgg.output])
    n_content = len(params.content_layers)
    n_style = len(params.style_layers)
    targets = (
        model(content[None].astype(np.float32))[:n_content],
        [gram_matrix(f) for f in model(style[None].astype(np.float32))[n_content:-1]],
        tf.constant([1.0 / n_style] * n_style),
        None,  # no Laplacian loss: plain Gatys
        None,  # no palette loss
    )
    weights = tf.constant([params.content_weight, params.style_weight, params.tv_weight])
    image = tf.Variable(content[None].astype(np.float32))
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    trace = Trace([], [])
    started = time.perf_counter()
    for _ in range(iterations):
        with tf.GradientTape() as tape:
            outputs = model(image)[:-1]  # the whole conv base runs; its last output is unused
            total, _ = objective(outputs, image, targets, weights, n_content)
        optimizer.apply_gradients([(tape.gradient(total, image), image)])
        image.assign(tf.clip_by_value(image, 0.0, 255.0))
        trace.losses.append(float(total))
        trace.seconds.append(time.perf_counter() - started)
    return trace


def engine_trace(
    engine: StyleEngine,
    content: np.ndarray,
    style: np.ndarray,
    params: JobParams,
    target: float,
) -> tuple[Trace, np.ndarray]:
    """One engine run, timed by its progress hook, stopped once it reaches ``target``; the
    trace and the picture it stopped at."""
    trace = Trace([], [])
    started = time.perf_counter()

    def on_progress(progress: Progress) -> Stop | None:
        trace.seconds.append(time.perf_counter() - started)
        trace.losses.append(progress.losses["total"])
        return Stop.CANCELED if progress.losses["total"] <= target else None  # target reached

    result = engine.run(content, [style], params, on_progress=on_progress)
    return trace, result.image


def round_trip_ms(shape: tuple[int, ...], repeats: int = 20) -> float:
    """Cost of L-BFGS-B's float64 numpy round trip for one image of ``shape``."""
    x = np.random.default_rng(0).uniform(0, 255, int(np.prod(shape)))
    started = time.perf_counter()
    for _ in range(repeats):
        np.asarray(x.reshape(shape).astype(np.float32), dtype=np.float64).ravel()
    return (time.perf_counter() - started) * 1e3 / repeats


VARIANTS = {  # name: (optimizer, precision)
    "adam-float32": ("adam", "float32"),
    "adam-bfloat16": ("adam", "bfloat16"),
    "lbfgs-float32": ("lbfgs", "float32"),
}  # L-BFGS in bfloat16 is refused: its line search needs float32 losses


def default_variant() -> str:
    """The variant (optimizer-arithmetic) a job with every default runs here."""
    from worker.engine.precision import resolve

    defaults = JobParams()
    return f"{defaults.optimizer}-{resolve(defaults.precision, defaults.optimizer)}"


def run_size(
    engine: StyleEngine, size: int, iterations: int, learning_rate: float | None
) -> dict[str, object]:
    """The baseline and every variant at one size, side by side."""
    content, style = sample_pair(size)
    params = JobParams(**LEGACY_DEFAULT, max_size=size, iterations=iterations, preview_every=0)
    if learning_rate is not None:
        params = params.model_copy(update={"learning_rate": learning_rate})
    base = baseline(engine, content, style, params, iterations, params.learning_rate)
    target = base.losses[-1]
    numbers: dict[str, object] = {
        "size": list(content.shape[:2]),
        "target_loss": target,
        "baseline_ms_per_iter": base.ms_per_iter(),
        "baseline_seconds_to_target": base.seconds[-1],
    }
    for name, (optimizer, arithmetic) in VARIANTS.items():
        longer = params.model_copy(
            update={"iterations": 3 * iterations, "optimizer": optimizer, "precision": arithmetic}
        )
        trace, picture = engine_trace(engine, content, style, longer, target)
        reached = trace.time_to(target)
        numbers[f"{name}_ms_per_iter"] = trace.ms_per_iter()
        numbers[f"{name}_seconds_to_target"] = reached
        numbers[f"{name}_iterations_to_target"] = len(trace.losses) if reached else None
        # the picture it stopped at, measured in float32 whatever it ran in
        numbers[f"{name}_float32_loss"] = engine.loss(content, [style], longer, picture)["total"]
    best = numbers[f"{default_variant()}_seconds_to_target"]
    numbers["speedup_to_quality"] = base.seconds[-1] / best if best else None
    numbers["lbfgs_round_trip_ms"] = round_trip_ms((1, *content.shape))
    return numbers


def to_legacy_quality(engine: StyleEngine, size: int, iterations: int) -> dict[str, object]:
    """The legacy default job, then the default job until it has as much of the style (both
    with ``iterations``: the default's 200 unless testing)."""
    content, style = sample_pair(size)
    legacy = JobParams(**LEGACY_DEFAULT, max_size=size, iterations=iterations, preview_every=0)
    yardstick = yardstick_for(engine, content, style, legacy)
    old = timed_run(engine, content, style, legacy, yardstick, None)
    target = yardstick.measure(old.saved)
    new = timed_run(
        engine, content, style, JobParams(max_size=size, iterations=iterations), yardstick, target
    )
    reached = new.seconds_to_target
    return {
        "legacy_seconds": old.result.seconds,
        "legacy_gram_geo": target.gram_geo,
        "legacy_sw_geo": target.sw_geo,
        "legacy_content_ratio": target.content_ratio,
        "default_seconds": new.result.seconds - new.measuring_s,
        "default_seconds_to_legacy_quality": reached,
        "default_final": yardstick.measure(new.saved).as_dict(),
        "first_preview_s": new.first_preview_s,
        "speedup_to_legacy_quality": old.result.seconds / reached if reached else None,
    }


def run(
    sizes: tuple[int, ...] = (256, 512),
    iterations: int = 30,
    learning_rate: float | None = None,
    weights: str | None = None,
    baseline: bool = True,
    legacy_iterations: int | None = 200,
) -> dict[str, object]:
    """At each size: the eager baseline and the engine's variants (``speedup_to_quality``: the
    baseline's seconds to its final loss over the default variant's), and the default job
    against the legacy default, both with ``legacy_iterations`` (``speedup_to_legacy_quality``;
    None: not measured)."""
    if baseline and keras.backend.backend() != "tensorflow":
        raise RuntimeError("the baseline is eager TensorFlow: run with KERAS_BACKEND=tensorflow")
    engine = StyleEngine.load(weights)
    by_size: dict[str, dict[str, object]] = {str(size): {} for size in sizes}
    for size in sizes:
        if baseline:
            by_size[str(size)].update(run_size(engine, size, iterations, learning_rate))
        if legacy_iterations:
            by_size[str(size)]["legacy"] = to_legacy_quality(engine, size, legacy_iterations)
    return {
        "weights_source": engine.weights_source,
        "iterations": iterations,
        "default": default_variant(),
        "speedup_to_quality": {size: n.get("speedup_to_quality") for size, n in by_size.items()},
        "speedup_to_legacy_quality": {
            size: n["legacy"]["speedup_to_legacy_quality"]  # type: ignore[index]
            for size, n in by_size.items()
            if "legacy" in n
        },
        "sizes": by_size,
    }
