"""The style-transfer engine: VGG16 features, Gatys losses, one compiled step, L-BFGS or Adam.

``StyleEngine``, ``EngineResult`` and ``Progress`` are imported on first use, so that reading
weights metadata or catching the errors does not pay for importing TensorFlow.
"""

from typing import TYPE_CHECKING, Any

from worker.engine.errors import EngineInputError, WeightsError

if TYPE_CHECKING:
    from worker.engine.engine import EngineResult, Progress, StyleEngine

__all__ = ["EngineInputError", "EngineResult", "Progress", "StyleEngine", "WeightsError"]


def __getattr__(name: str) -> Any:
    if name in ("EngineResult", "Progress", "StyleEngine"):
        from worker.engine import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'worker.engine' has no attribute {name!r}")
