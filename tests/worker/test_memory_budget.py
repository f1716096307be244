"""A worker's memory budget: the setting, or detected from RAM and the cgroup limit."""

from __future__ import annotations

from pathlib import Path

from shared.settings import Settings
from worker.memory_budget import ram_mb, worker_budget_mb


def test_the_budget_is_the_setting_or_detected_from_ram_and_cgroup(tmp_path: Path) -> None:
    assert worker_budget_mb(Settings(worker_memory_mb=1234)) == 1234
    detected = worker_budget_mb(Settings())
    assert 0 < detected < ram_mb()
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       8388608 kB\nMemFree: 1 kB\n")
    (tmp_path / "memory.max").write_text(f"{2 * 2**30}\n")
    assert ram_mb(meminfo, tmp_path) == 2048, "the container's limit when lower"
    (tmp_path / "memory.max").write_text("max\n")
    assert ram_mb(meminfo, tmp_path) == 8192
