"""The style-transfer engine: VGG16 features, Gatys losses, one compiled step, L-BFGS or Adam."""

from worker.engine.engine import EngineResult, Progress, StyleEngine
from worker.engine.errors import EngineInputError, WeightsError

__all__ = ["EngineInputError", "EngineResult", "Progress", "StyleEngine", "WeightsError"]
