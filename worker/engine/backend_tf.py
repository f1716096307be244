"""TensorFlow: GradientTape for the gradient, tf.function (XLA on GPU) for compilation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from worker.engine.backend import LossFn, ValueAndGrad


class TensorFlowBackend:
    """The default backend."""

    name = "tensorflow"

    def __init__(self) -> None:
        self.jit = bool(tf.config.list_physical_devices("GPU"))

    def model_state(self, model: keras.Model) -> Any:
        return ()  # the model reads its own variables

    def value_and_grad(self, model: keras.Model, loss_fn: LossFn) -> ValueAndGrad:
        def value_and_grad(state: Any, image: Any, targets: Any, loss_weights: Any) -> Any:
            with tf.GradientTape() as tape:
                tape.watch(image)
                total, aux = loss_fn(model, image, targets, loss_weights)
            return total, aux, tape.gradient(total, image)

        return value_and_grad

    def compile(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        # reduce_retracing: the second image shape traces a shape-generic graph that serves
        # every later level and job (XLA on a GPU still compiles per shape, and caches it).
        return tf.function(fn, jit_compile=self.jit, reduce_retracing=True)
