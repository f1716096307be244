"""The style-transfer engine: VGG16 features, Gatys losses, one compiled step, L-BFGS or Adam.

``StyleEngine`` is imported on first use, so that the hook types, reading weights metadata or
catching the errors does not pay for importing Keras and TensorFlow.
"""

from typing import TYPE_CHECKING, Any

from worker.engine.errors import EngineInputError, JobTooLarge, WeightsError
from worker.engine.hooks import EngineResult, PreviewHook, Progress, ProgressHook, Stop

if TYPE_CHECKING:
    from worker.engine.style_engine import StyleEngine

__all__ = [
    "EngineInputError",
    "EngineResult",
    "JobTooLarge",
    "PreviewHook",
    "Progress",
    "ProgressHook",
    "Stop",
    "StyleEngine",
    "WeightsError",
]


def __getattr__(name: str) -> Any:
    if name == "StyleEngine":
        from worker.engine.style_engine import StyleEngine

        return StyleEngine
    raise AttributeError(f"module 'worker.engine' has no attribute {name!r}")
