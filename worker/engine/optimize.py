"""The optimisation loops: one compiled step per iteration, a hook after each, nothing else.

L-BFGS is scipy's L-BFGS-B without bounds, driven by the compiled value-and-gradient of the
loss plus an out-of-range penalty (box bounds stall on high-contrast styles, see
docs/engine.md); Adam runs its whole update, clip included, inside the compiled step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from keras import ops
from scipy.optimize import minimize

from shared.params import JobParams
from worker.engine.backend import Backend, ValueAndGrad
from worker.engine.gamut import keep_in_gamut, unlimited
from worker.engine.hooks import Stop
from worker.engine.imaging import resize_field

ADAM_BETAS = (0.9, 0.999)
ADAM_EPSILON = 1e-8
LBFGS_HISTORY = 10  # 2 x 10 float64 copies of the image
# Weight of the mean squared distance of pixels outside [0, 255] in L-BFGS's objective, at
# the default loss weights: keeps the optimum displayable (rms excess ~1-4 levels on
# black-and-white styles) without the stall of box bounds; 10x stronger slowed the style
# down on those styles (docs/engine.md). It grows with the content and style weights.
RANGE_PENALTY_WEIGHT = 1.0

# Losses as the step returns them: (total, auxiliary parts), still backend tensors.
Losses = tuple[Any, Any]
# Called after every iteration with the losses at the iterate and a way to get that image
# as (1, H, W, 3) float32; returns a Stop to end the loop there, else None.
Hook = Callable[[Losses, Callable[[], np.ndarray]], Stop | None]


@dataclass
class LevelResult:
    """Where one pyramid level ended: the image (1, H, W, 3) float32, the losses, the Stop."""

    image: np.ndarray
    losses: Losses
    initial_losses: Losses
    iterations: int
    stopped: Stop | None


class CompiledStep:
    """A compiled step for one layer configuration; ``traces`` counts its (re)tracings."""

    def __init__(self, backend: Backend, fn: Callable[..., Any]) -> None:
        self.traces = 0

        def traced(*args: Any) -> Any:
            self.traces += 1  # Python runs this body only while tracing
            return fn(*args)

        self._compiled = backend.compile(traced)

    def __call__(self, *args: Any) -> Any:
        return self._compiled(*args)


def loss_weights(params: JobParams) -> Any:
    """[content, style, tv, range penalty, laplacian, palette, gram] weights of a job's loss
    terms as a tensor (``losses.objective``; the range penalty is L-BFGS's, ``lbfgs_step``)."""
    return ops.convert_to_tensor(
        np.array(
            [
                params.content_weight,
                params.style_weight,
                params.tv_weight,
                range_penalty_weight(params),
                params.laplacian_weight,
                params.palette_weight,
                params.gram_weight,
            ],
            np.float32,
        )
    )


def range_penalty_weight(params: JobParams) -> float:
    """The out-of-range penalty's weight for a job: the pixel gradients grow with the content
    and style weights, so the pull back into [0, 255] grows with them (never below the
    default's)."""
    defaults = JobParams()
    return RANGE_PENALTY_WEIGHT * max(
        1.0,
        params.content_weight / defaults.content_weight,
        params.style_weight / defaults.style_weight,
    )


def lbfgs_step(backend: Backend, value_and_grad: ValueAndGrad) -> CompiledStep:
    """(state, image, targets, loss_weights) -> (total + range penalty, parts, its gradient).

    ``loss_weights`` is ``loss_weights(params)``: its range penalty is ``range_penalty_weight``.
    """

    def step(state: Any, image: Any, targets: Any, loss_weights: Any) -> Any:
        total, parts, grad = value_and_grad(state, image, targets, loss_weights)
        excess = ops.minimum(image, 0.0) + ops.maximum(image - 255.0, 0.0)
        scale = loss_weights[3] / ops.cast(ops.size(image), image.dtype)
        penalty = scale * ops.sum(ops.square(excess))
        return total + penalty, parts, grad + 2.0 * scale * excess

    return CompiledStep(backend, step)


def gradient_step(backend: Backend, value_and_grad: ValueAndGrad) -> CompiledStep:
    """(state, image, targets, loss_weights) -> (total, parts, d total / d image), compiled."""
    return CompiledStep(backend, value_and_grad)


def adam_step(backend: Backend, value_and_grad: ValueAndGrad) -> CompiledStep:
    """(state, image, m, v, t, average, targets, loss_weights, hyper, limits) -> (total, parts,
    image, m, v, t, average); ``hyper`` is [learning rate, averaging decay], ``limits`` the chroma
    gamut every iterate is kept in (worker/engine/gamut.py).

    ``average`` accumulates the iterates without bias correction (the caller divides by
    1 - decayᵏ after k steps); with decay 0 it is the last iterate.
    """
    beta1, beta2 = ADAM_BETAS

    def step(
        state: Any,
        image: Any,
        m: Any,
        v: Any,
        t: Any,
        average: Any,
        targets: Any,
        loss_weights: Any,
        hyper: Any,
        limits: Any,
    ) -> Any:
        total, parts, grad = value_and_grad(state, image, targets, loss_weights)
        t = t + 1.0
        m = beta1 * m + (1.0 - beta1) * grad
        v = beta2 * v + (1.0 - beta2) * ops.square(grad)
        m_hat = m / (1.0 - ops.power(beta1, t))
        v_hat = v / (1.0 - ops.power(beta2, t))
        image = image - hyper[0] * m_hat / (ops.sqrt(v_hat) + ADAM_EPSILON)
        image = ops.clip(keep_in_gamut(image, limits), 0.0, 255.0)
        average = hyper[1] * average + (1.0 - hyper[1]) * image
        return total, parts, image, m, v, t, average

    return CompiledStep(backend, step)


def run_lbfgs(
    step: CompiledStep,
    state: Any,
    image: np.ndarray,
    targets: Any,
    loss_weights: Any,
    iterations: int,
    hook: Hook,
) -> LevelResult:
    """Up to ``iterations`` L-BFGS iterations from ``image`` (float64 round trip per call).

    The iterate may leave [0, 255] a little (the step's penalty pulls it back); the caller
    clips the picture it keeps, and previews are clipped too.
    """
    shape = image.shape
    seen: dict[str, Any] = {"iterations": 0, "stopped": None}

    def value_and_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
        total, parts, grad = step(state, x.reshape(shape).astype(np.float32), targets, loss_weights)
        seen["losses"] = (total, parts)
        seen.setdefault("initial", (total, parts))
        return float(total), np.asarray(grad, dtype=np.float64).ravel()

    def callback(intermediate_result: Any) -> None:
        # The last evaluation was at this iterate, so seen["losses"] are its losses.
        seen["iterations"] += 1
        stop = hook(seen["losses"], lambda: intermediate_result.x.reshape(shape).astype(np.float32))
        if stop is not None:
            seen["stopped"] = stop
            raise StopIteration

    x = image.astype(np.float64).ravel()
    while seen["stopped"] is None and seen["iterations"] < iterations:
        # L-BFGS-B may end early (a line search failing on float32 noise): restart it from
        # where it got to with a fresh history, unless it made no progress at all.
        before = seen["iterations"]
        x = minimize(
            value_and_grad,
            x,
            jac=True,
            method="L-BFGS-B",
            callback=callback,
            options={
                "maxiter": iterations - before,
                "maxfun": 4 * (iterations - before) + 20,
                "maxcor": LBFGS_HISTORY,
                "ftol": 0.0,
                "gtol": 0.0,
            },
        ).x
        if seen["iterations"] == before:
            break
    return LevelResult(
        image=x.reshape(shape).astype(np.float32),
        losses=seen["losses"],
        initial_losses=seen["initial"],
        iterations=seen["iterations"],
        stopped=seen["stopped"],
    )


@dataclass
class AdamState:
    """Adam's moments (1, H, W, 3) and step count, carried from one level to the next."""

    m: np.ndarray
    v: np.ndarray
    t: float

    @classmethod
    def fresh(cls, shape: tuple[int, ...]) -> AdamState:
        """The state before the first step."""
        return cls(np.zeros(shape, np.float32), np.zeros(shape, np.float32), 0.0)


def resized_adam(adam: AdamState, size: tuple[int, int]) -> AdamState:
    """Adam's state warm-started at a new level: the first moment resized bicubically, the
    second bilinearly (kept non-negative), both rescaled to the new level's gradients (every
    loss is a mean over positions, so a level with k times the pixels has 1/k the gradient per
    pixel; unscaled, the carried second moment would shrink every step by k for hundreds of
    iterations); the step count goes on."""
    old_pixels = adam.m.shape[1] * adam.m.shape[2]
    factor = old_pixels / (size[0] * size[1])
    m = resize_field(adam.m[0], size, cubic=True)[None] * factor
    v = np.maximum(resize_field(adam.v[0], size, cubic=False), 0.0)[None] * factor**2
    return AdamState(m, v, adam.t)


def run_adam(
    step: CompiledStep,
    state: Any,
    image: np.ndarray,
    targets: Callable[[int], Any],
    loss_weights: Any,
    iterations: int,
    learning_rate: float,
    hook: Hook,
    average_decay: float = 0.0,
    adam: AdamState | None = None,
    limits: tuple[np.ndarray, ...] | None = None,
) -> tuple[LevelResult, AdamState]:
    """``iterations`` Adam steps from ``image`` (and ``adam``'s moments, when carried over),
    each pixel's chroma kept in the gamut ``limits`` (None: any), step k against
    ``targets(k)``; losses reported are those before each step. The level's picture (result
    and previews) is the bias-corrected moving average of the iterates with ``average_decay``
    (0: the last iterate)."""
    adam = adam or AdamState.fresh(image.shape)
    x = ops.convert_to_tensor(image)
    m, v = ops.convert_to_tensor(adam.m), ops.convert_to_tensor(adam.v)
    t = ops.convert_to_tensor(np.float32(adam.t))
    average = ops.zeros_like(x)
    hyper = ops.convert_to_tensor(np.array([learning_rate, average_decay], np.float32))
    limits = tuple(ops.convert_to_tensor(x) for x in (limits or unlimited()))
    initial: Losses | None = None
    losses: Losses = (None, None)
    stopped: Stop | None = None
    done = 0

    def picture(average: Any, steps: int) -> np.ndarray:
        return ops.convert_to_numpy(average) / np.float32(1.0 - average_decay**steps)

    while done < iterations and stopped is None:
        total, parts, x, m, v, t, average = step(
            state, x, m, v, t, average, targets(done), loss_weights, hyper, limits
        )
        done += 1
        losses = (total, parts)
        initial = initial or losses
        stopped = hook(losses, lambda average=average, done=done: picture(average, done))
    assert initial is not None
    carried = AdamState(ops.convert_to_numpy(m), ops.convert_to_numpy(v), float(t))
    return LevelResult(picture(average, done), losses, initial, done, stopped), carried
