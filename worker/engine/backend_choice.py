"""Which ``Backend`` implementation runs: the one for the Keras backend chosen by
``KERAS_BACKEND``."""

from __future__ import annotations

import keras

from worker.engine.backend import Backend


def get_backend() -> Backend:
    """The implementation for ``keras.backend.backend()`` (tensorflow or jax)."""
    name = keras.backend.backend()
    if name == "tensorflow":
        from worker.engine.backend_tf import TensorFlowBackend

        return TensorFlowBackend()
    if name == "jax":
        from worker.engine.backend_jax import JaxBackend

        return JaxBackend()
    raise RuntimeError(f"KERAS_BACKEND={name} is not supported; use tensorflow or jax")
