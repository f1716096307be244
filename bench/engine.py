"""``stylize bench engine``: the seed article's eager Adam loop against the engine, same loss.

Both sides use the same VGG16 weights, layers, loss weights and image pair, at each size. The
baseline is the seed's loop with its bug fixed (one image variable, created once): eager
Keras, the full conv base called every step, keras.optimizers.Adam. The engine runs its
compiled step with Adam and L-BFGS, in float32 and bfloat16, each until it reaches the
baseline's final loss; the picture it stops at is measured again in float32.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

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
        return next((s for s, loss in zip(self.seconds, self.losses, strict=True)
                     if loss <= target), None)  # fmt: skip


def sample_pair(size: int) -> tuple[np.ndarray, np.ndarray]:
    """The astronaut and the Hubble deep field at ``size`` px (longest side)."""
    content = read_image(str(EXAMPLES / "content-astronaut.jpg"))
    style = read_image(str(EXAMPLES / "style-hubble.jpg"))
    content = resize(content, fit_size(*content.shape[:2], size)).astype(np.uint8)
    style = resize(style, fit_size(*style.shape[:2], size)).astype(np.uint8)
    return content, style


def baseline(
    engine: StyleEngine, content: np.ndarray, style: np.ndarray, params: JobParams,
    iterations: int, learning_rate: float,
) -> Trace:  # fmt: skip
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
    engine: StyleEngine, content: np.ndarray, style: np.ndarray, params: JobParams,
    target: float,
) -> tuple[Trace, np.ndarray]:  # fmt: skip
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
    """The variant a job with every default runs here."""
    from worker.engine.precision import resolve

    defaults = JobParams()
    return f"{defaults.optimizer}-{resolve(defaults.precision, defaults.optimizer)}"


def run_size(engine: StyleEngine, size: int, iterations: int,
             learning_rate: float | None) -> dict[str, object]:  # fmt: skip
    """The baseline and every variant at one size, side by side."""
    content, style = sample_pair(size)
    params = JobParams(max_size=size, iterations=iterations, preview_every=0)
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
        longer = params.model_copy(update={"iterations": 3 * iterations, "optimizer": optimizer,
                                           "precision": arithmetic})  # fmt: skip
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


def run(
    sizes: tuple[int, ...] = (256, 512), iterations: int = 30,
    learning_rate: float | None = None, weights: str | None = None,
) -> dict[str, object]:  # fmt: skip
    """Baseline and engine variants at each size; ``speedup_to_quality`` per size is the
    baseline's seconds to its final loss over the default variant's seconds to the same."""
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError("the baseline is eager TensorFlow: run with KERAS_BACKEND=tensorflow")
    engine = StyleEngine.load(weights)
    by_size = {str(size): run_size(engine, size, iterations, learning_rate) for size in sizes}
    return {
        "weights_source": engine.weights_source,
        "iterations": iterations,
        "default": default_variant(),
        "speedup_to_quality": {size: n["speedup_to_quality"] for size, n in by_size.items()},
        "sizes": by_size,
    }
