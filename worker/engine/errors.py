"""Errors the engine raises before any tensor work starts."""


class EngineInputError(ValueError):
    """The inputs or parameters cannot make a picture; the message names the problem."""


class WeightsError(RuntimeError):
    """The requested VGG16 weights are not available; the message says how to get them."""
