"""`bench quality --against-legacy`: the legacy reference is the legacy default whatever the
tested configuration adds."""

from __future__ import annotations

from bench.quality import LEGACY_DEFAULT
from shared.params import JobParams


def test_the_legacy_reference_takes_none_of_the_tested_configurations_losses() -> None:
    """The reference is built as the tested parameters with LEGACY_DEFAULT over them: a loss
    the legacy default did not have stays off even when the tested run turns it on."""
    tested = JobParams(
        palette_weight=0.01, laplacian_weight=5e-3, edge_padding="mirror", scales="auto"
    )
    legacy = JobParams(**{**tested.model_dump(), **LEGACY_DEFAULT})
    assert legacy.palette_weight == 0 and legacy.laplacian_weight == 0
    assert (legacy.edge_padding, legacy.style_loss, legacy.scales) == ("zero", "gram", 1)
    assert not legacy.limit_chroma and legacy.iterate_average == 0
