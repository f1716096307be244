"""The real defaults on a real pair: the loss must fall by 80% and the picture be valid."""

from __future__ import annotations

import numpy as np
import pytest

from shared.images import decode_image, encode_image
from shared.params import JobParams
from tests.support.engine import sample
from worker.engine import StyleEngine


@pytest.mark.slow
def test_defaults_on_a_sample_pair_at_128_px(hed_engine: StyleEngine) -> None:
    content, style = sample("content-chelsea"), sample("style-brick")
    result = hed_engine.run(content, [style], JobParams(max_size=128))
    assert result.iterations == JobParams().iterations and not result.stopped
    assert result.losses["total"] <= 0.2 * result.initial_losses["total"]
    decoded = decode_image(encode_image(result.image, "png"))
    assert decoded.shape == (85, 128, 3)  # 451x300 keeps its aspect ratio
    assert decoded.std() > 10 and not np.array_equal(decoded[..., 0], decoded[..., 1])
