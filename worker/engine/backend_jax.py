"""JAX: jax.value_and_grad over model.stateless_call, compiled with jax.jit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import keras

from worker.engine.backend import LossFn, ValueAndGrad


class JaxBackend:
    """For KERAS_BACKEND=jax; the model's weights are arguments, not constants, of the program."""

    name = "jax"

    def model_state(self, model: keras.Model) -> Any:
        return (
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
        )

    def value_and_grad(self, model: keras.Model, loss_fn: LossFn) -> ValueAndGrad:
        def loss(image: Any, state: Any, targets: Any, loss_weights: Any) -> Any:
            def forward(x: Any) -> Any:
                return model.stateless_call(*state, x)[0]

            return loss_fn(forward, image, targets, loss_weights)

        grad_fn = jax.value_and_grad(loss, has_aux=True)

        def value_and_grad(state: Any, image: Any, targets: Any, loss_weights: Any) -> Any:
            (total, aux), grad = grad_fn(image, state, targets, loss_weights)
            return total, aux, grad

        return value_and_grad

    def compile(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return jax.jit(fn)
