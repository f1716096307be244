"""--gpu auto: each worker process claims a GPU no other holds; a dead one frees it at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cli.gpu_claim import claim_gpu

GPUS = ["GPU-aaaa", "GPU-bbbb"]


def test_claims_are_exclusive_and_released_with_the_file(tmp_path: Path) -> None:
    first = claim_gpu(GPUS, tmp_path)
    second = claim_gpu(GPUS, tmp_path)
    assert first is not None and second is not None
    assert {first[0], second[0]} == set(GPUS)
    assert claim_gpu(GPUS, tmp_path) is None, "both GPUs are taken"
    first[1].close()  # the worker holding it exited
    again = claim_gpu(GPUS, tmp_path)
    assert again is not None and again[0] == first[0]
    again[1].close()
    second[1].close()


def test_a_claim_held_by_another_process_is_respected(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from cli.gpu_claim import claim_gpu;"
            f"c = claim_gpu({GPUS[:1]!r}, Path({str(tmp_path)!r})); print(c[0], flush=True);"
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == GPUS[0]
        claimed = claim_gpu(GPUS, tmp_path)
        assert claimed is not None and claimed[0] == GPUS[1]
        claimed[1].close()
    finally:
        holder.communicate("", timeout=60)
    freed = claim_gpu(GPUS[:1], tmp_path)
    assert freed is not None, "the exited process's claim is gone"
    freed[1].close()


def test_worker_refuses_a_gpu_that_is_not_an_index() -> None:
    stylize = Path(sys.executable).with_name("stylize")
    result = subprocess.run(
        [str(stylize), "worker", "--gpu", "first"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2 and "use a GPU index" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("choice", ["0", "3"])
def test_pin_by_index_sets_cuda_visible_devices(
    choice: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli.gpu_claim import pin_gpu

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert pin_gpu(choice, tmp_path) == f"GPU {choice}"
    import os

    assert os.environ["CUDA_VISIBLE_DEVICES"] == choice
