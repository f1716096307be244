"""The one backend-specific piece: value-and-gradient of a loss through a model, and compilation.

``worker/engine/backend_choice.py`` picks the implementation for ``KERAS_BACKEND``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import keras

# (forward, image, targets, loss_weights) -> (total loss, auxiliary outputs such as its parts);
# ``forward(x)`` runs the model on x, so that the loss decides what the network sees
LossFn = Callable[[Callable[[Any], Any], Any, Any, Any], tuple[Any, Any]]
# (model_state, image, targets, loss_weights) -> (total, auxiliary, d total / d image)
ValueAndGrad = Callable[[Any, Any, Any, Any], tuple[Any, Any, Any]]


class Backend(Protocol):
    """Value-and-gradient with respect to the image, and compilation of a pure function."""

    name: str

    def model_state(self, model: keras.Model) -> Any:
        """What ``value_and_grad``'s first argument must be for ``model``."""

    def value_and_grad(self, model: keras.Model, loss_fn: LossFn) -> ValueAndGrad:
        """``loss_fn(model, image, targets, loss_weights)`` (the model as a function of its
        input) and d total / d image."""

    def compile(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` compiled; traced again only for new input shapes."""
