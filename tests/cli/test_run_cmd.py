"""``stylize run`` and ``stylize weights`` through click, on small sample images."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import keras
import pytest
from click.testing import CliRunner
from PIL import Image

from cli.main import cli
from tests.support.engine import EXAMPLES
from worker.engine.weights import IMAGENET_FILE


@pytest.fixture
def small_pair(tmp_path: Path) -> tuple[str, str]:
    """The cat and the bricks, shrunk to 48 px so a run takes a second."""
    paths = []
    for name in ("content-chelsea", "style-brick"):
        image = Image.open(EXAMPLES / f"{name}.jpg")
        image.thumbnail((48, 48))
        paths.append(str(tmp_path / f"{name}.png"))
        image.save(paths[-1])
    return paths[0], paths[1]


def test_run_writes_the_picture_and_prints_metrics(tmp_path: Path, small_pair) -> None:
    out = tmp_path / "out.jpg"
    args = [
        "run",
        *small_pair,
        "-o",
        str(out),
        "--max-size",
        "40",
        "--iterations",
        "4",
        "--style-layers",
        "block1_conv1,block2_conv1",
        "--preserve-color",
        "--weights",
        "hed",
        "--json",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output.strip().splitlines()[-1])
    assert metrics["iterations"] == 4 and metrics["weights_source"] == "hed-bsds500"
    assert metrics["losses"]["total"] < metrics["initial_losses"]["total"]
    assert {"seconds", "ms_per_iter"} <= set(metrics)
    with Image.open(out) as written:
        assert written.format == "JPEG" and written.size == (40, 27)


@pytest.mark.slow
def test_a_fresh_run_writes_no_backend_start_up_noise(tmp_path: Path, small_pair) -> None:
    """In its own process, as a user runs it: stderr has TensorFlow's start-up lines dropped."""
    out = tmp_path / "out.png"
    command = [sys.executable, "-m", "cli", "run", *small_pair, "-o", str(out)]
    command += ["--max-size", "32", "--iterations", "2", "--weights", "hed"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 0
    for noise in ("absl::InitializeLog", "oneDNN custom operations", "cuda drivers"):
        assert noise not in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--style-layers", "block9_conv1"], "unknown VGG16 layer block9_conv1"),
        (["--iterations", "0"], "--iterations"),
        (["--max-size", "-1"], "--max-size"),
        (["--style-blend", "1,2"], "style_blend has 2 weight"),
    ],
)
def test_bad_options_give_one_clear_error(tmp_path: Path, small_pair, extra, message) -> None:
    args = ["run", *small_pair, "-o", str(tmp_path / "out.png"), "--weights", "hed", *extra]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0 and message in result.output


def test_unreadable_image_is_named(tmp_path: Path, small_pair) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    result = CliRunner().invoke(cli, ["run", str(empty), small_pair[1], "-o", "x.png"])
    assert result.exit_code == 1 and "empty.png" in result.output and "empty" in result.output


def test_weights_info_says_what_auto_picks(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    result = CliRunner().invoke(cli, ["weights", "info", "--json"])
    shown = json.loads(result.output)
    assert shown["sources"]["auto"].startswith("hed:")
    assert shown["sources"]["imagenet"].startswith("missing:")


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="baseline is eager TF")
def test_bench_engine_reports_every_variant_side_by_side() -> None:
    args = [
        "bench",
        "engine",
        "--size",
        "32",
        "--iterations",
        "3",
        "--legacy-iterations",
        "10",
        "--weights",
        "hed",
        "--json",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    numbers = json.loads(result.output.strip().splitlines()[-1])
    row = numbers["sizes"]["32"]
    assert row["baseline_ms_per_iter"] > 0 and row["target_loss"] > 0 and row["size"] == [32, 32]
    for name in ("adam-float32", "adam-bfloat16", "lbfgs-float32"):
        assert row[f"{name}_ms_per_iter"] > 0 and row[f"{name}_float32_loss"] > 0
    assert set(numbers["speedup_to_quality"]) == {"32"}
    assert f"{numbers['default']}_seconds_to_target" in row
    legacy = row["legacy"]
    assert legacy["legacy_seconds"] > 0 and 0 < legacy["legacy_gram_geo"] < 1
    assert set(numbers["speedup_to_legacy_quality"]) == {"32"}
    assert legacy["first_preview_s"] is not None


def test_bench_quality_measures_every_layer_against_a_reference(tmp_path: Path, small_pair) -> None:
    """Per-layer Gram and sliced Wasserstein ratios, chroma and frame figures for the tested
    configuration and the legacy reference, and the seconds to the reference's quality."""
    args = [
        "bench",
        "quality",
        "--only",
        "--pair",
        *small_pair,
        "--size",
        "48",
        "--param",
        "iterations=8",
        "--param",
        "min_scale=32",
        "--against-legacy",
        "--against",
        "iterations=8",
        "--against",
        "min_scale=32",
        "--sheet-dir",
        str(tmp_path),
        "--pictures",
        str(tmp_path / "full"),
        "--weights",
        "hed",
        "--json",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    reference, tested = [row for row in lines if "config" in row]  # not log records
    assert (reference["config"], tested["config"]) == ("reference", "tested")
    for row in (reference, tested):
        assert len(row["gram_ratios"]) == len(row["sw_ratios"]) == 5
        assert 0 < row["gram_geo"] < 1 and 0 < row["sw_geo"] < 2
        assert row["content_ratio"] > 0 and row["yardstick_content_ratio"] > 0
        assert row["content_off_grid"] > 0
        colour_and_edges = {"chroma_drift", "foreign_chroma", "edge_dark", "edge_detail"}
        assert colour_and_edges | {"edge_ticks", "edge_row"} <= set(row)
        assert -1 <= row["likeness"] <= 1
    assert reference["seconds_to_reference"] is None
    assert tested["first_preview_s"] is not None
    assert (tmp_path / "quality-48.png").exists()
    assert sorted(f.name for f in (tmp_path / "full").iterdir()) == [
        "content-chelsea-48-reference.png",
        "content-chelsea-48-tested.png",
    ]


def test_memory_probe_reports_a_jobs_peak_above_the_engine() -> None:
    """One probe in a fresh process, as `stylize bench memory` runs each configuration."""
    from bench.memory import Config, probe

    report = probe(Config("opt", {"max_size": 64, "style_scale": 0.5}), keras.backend.backend())
    assert 0 < report["job_mb"] < report["engine_mb"] and report["size"] == [64, 64]


def test_weights_bake_offline_checks_and_names_the_bundled_hed_weights(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    result = CliRunner().invoke(cli, ["weights", "bake", "--imagenet", "skip"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("baked VGG16 weights: hed-bsds500 (")


def test_weights_bake_falls_back_to_hed_when_imagenet_cannot_be_fetched(
    tmp_path: Path, monkeypatch
) -> None:
    """Where the weights' host answers the download succeeds; here (no such network) the build
    still gets weights, and either way the last line names what ``auto`` then picks."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    result = CliRunner().invoke(cli, ["weights", "bake"])
    assert result.exit_code == 0, result.output
    last = result.output.splitlines()[-1]
    if (tmp_path / "models" / IMAGENET_FILE).is_file():
        assert last.startswith("baked VGG16 weights: imagenet (")
    else:
        assert "ImageNet weights not downloaded (" in result.output
        assert last.startswith("baked VGG16 weights: hed-bsds500 (")


def test_weights_bake_fails_on_an_unreadable_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / IMAGENET_FILE).write_bytes(b"not HDF5")
    result = CliRunner().invoke(cli, ["weights", "bake", "--imagenet", "skip"])
    assert result.exit_code == 1
    assert "no VGG16 weights to bake" in result.output and "not a readable" in result.output
