"""Errors the engine raises before any tensor work starts."""


class EngineInputError(ValueError):
    """The inputs or parameters cannot make a picture; the message names the problem."""


class JobTooLarge(EngineInputError):
    """The job would not fit this worker's memory budget, even in tiles; the message names the
    largest max_size and style_scale that fit."""


class WeightsError(RuntimeError):
    """The requested VGG16 weights are not available; the message says how to get them."""
