"""``stylize bench engine``: the seed article's eager Adam loop against the engine, same loss.

Both sides use the same VGG16 weights, layers, loss weights and 256 px image pair. The baseline
is the seed's loop with its bug fixed (one image variable, created once): eager Keras, the full
conv base called every step, keras.optimizers.Adam. The engine runs its compiled step with
L-BFGS (its default) and, for a like-for-like step cost, with Adam.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from shared.images import read_image
from shared.params import JobParams
from worker.engine import Progress, Stop, StyleEngine
from worker.engine.imaging import fit_size, resize
from worker.engine.losses import gram_matrix, objective

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@dataclass
class Trace:
    """Seconds since start and total loss after each iteration."""

    seconds: list[float]
    losses: list[float]

    def ms_per_iter(self) -> float:
        """Median iteration time, the first (tracing, warm-up) left out."""
        return float(np.median(np.diff(self.seconds)) * 1e3)

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
    targets = (
        model(content[None].astype(np.float32))[:n_content],
        [gram_matrix(f) for f in model(style[None].astype(np.float32))[n_content:-1]],
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
) -> Trace:  # fmt: skip
    """One engine run, timed by its progress callback, stopped once it reaches ``target``."""
    trace = Trace([], [])
    started = time.perf_counter()

    def on_progress(progress: Progress) -> Stop | None:
        trace.seconds.append(time.perf_counter() - started)
        trace.losses.append(progress.losses["total"])
        return Stop.CANCELED if progress.losses["total"] <= target else None  # target reached

    engine.run(content, [style], params, on_progress=on_progress)
    return trace


def round_trip_ms(shape: tuple[int, ...], repeats: int = 20) -> float:
    """Cost of L-BFGS-B's float64 numpy round trip for one image of ``shape``."""
    x = np.random.default_rng(0).uniform(0, 255, int(np.prod(shape)))
    started = time.perf_counter()
    for _ in range(repeats):
        np.asarray(x.reshape(shape).astype(np.float32), dtype=np.float64).ravel()
    return (time.perf_counter() - started) * 1e3 / repeats


def run(size: int = 256, iterations: int = 30, learning_rate: float | None = None,
        weights: str | None = None) -> dict[str, object]:  # fmt: skip
    """Run both, return the numbers (ms/iter, ratio, seconds to the baseline's final loss)."""
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError("the baseline is eager TensorFlow: run with KERAS_BACKEND=tensorflow")
    engine = StyleEngine.load(weights)
    content, style = sample_pair(size)
    params = JobParams(max_size=size, iterations=iterations, preview_every=0)
    if learning_rate is not None:
        params = params.model_copy(update={"learning_rate": learning_rate})
    base = baseline(engine, content, style, params, iterations, params.learning_rate)
    target = base.losses[-1]
    longer = params.model_copy(update={"iterations": 2 * iterations})  # time to reach the target
    adam = engine_trace(engine, content, style, longer.model_copy(update={"optimizer": "adam"}),
                        target)  # fmt: skip
    lbfgs = engine_trace(engine, content, style, longer, target)
    return {
        "size": list(content.shape[:2]),
        "learning_rate": params.learning_rate,
        "weights_source": engine.weights_source,
        "iterations": iterations,
        "target_loss": target,
        "baseline_ms_per_iter": base.ms_per_iter(),
        "engine_adam_ms_per_iter": adam.ms_per_iter(),
        "engine_lbfgs_ms_per_iter": lbfgs.ms_per_iter(),
        "step_speedup": base.ms_per_iter() / adam.ms_per_iter(),
        "baseline_seconds_to_target": base.time_to(target),
        "engine_adam_seconds_to_target": adam.time_to(target),
        "engine_lbfgs_seconds_to_target": lbfgs.time_to(target),
        "engine_adam_iterations_to_target": len(adam.losses) if adam.time_to(target) else None,
        "engine_lbfgs_iterations_to_target": len(lbfgs.losses) if lbfgs.time_to(target) else None,
        "lbfgs_round_trip_ms": round_trip_ms((1, *content.shape)),
    }
