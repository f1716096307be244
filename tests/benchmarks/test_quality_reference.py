"""`bench quality`'s reference: `--against-legacy` is the legacy default at the tested size,
whatever the tested configuration adds; `--against` alone is the tested job with one change."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bench.quality import Reference
from cli.main import cli
from shared.params import JobParams

TESTED = JobParams(
    max_size=320,
    iterations=50,
    palette_weight=0.01,
    laplacian_weight=5e-3,
    edge_padding="mirror",
    scales="auto",
)


def test_the_legacy_reference_takes_only_the_size_from_the_tested_job() -> None:
    """A loss the legacy default did not have stays off when the tested run turns it on, and
    no other --param reaches the reference; --against does."""
    legacy = Reference({"seed": 7}, legacy=True).params(TESTED)
    assert legacy.max_size == 320 and legacy.preview_every == 0 and legacy.seed == 7
    assert legacy.palette_weight == 0 and legacy.laplacian_weight == 0
    assert (legacy.edge_padding, legacy.style_loss, legacy.scales) == ("zero", "gram", 1)
    assert not legacy.limit_chroma and legacy.iterate_average == 0
    assert legacy.iterations == JobParams().iterations != TESTED.iterations


def test_a_plain_reference_is_the_tested_job_with_its_overrides() -> None:
    reference = Reference({"palette_weight": 0.0}).params(TESTED)
    assert reference.palette_weight == 0
    assert reference.model_dump() == {**TESTED.model_dump(), "palette_weight": 0.0}


@pytest.mark.parametrize("option", ["--param", "--against"])
def test_a_wrong_override_names_its_option(option: str) -> None:
    """A value the job parameters refuse is a usage error about the option that gave it
    (exit 2), before any model loads."""
    result = CliRunner().invoke(
        cli, ["bench", "quality", "--against-legacy", option, "iterations=-3"]
    )
    assert result.exit_code == 2
    assert f"Invalid value for {option}:" in result.output and "Traceback" not in result.output
