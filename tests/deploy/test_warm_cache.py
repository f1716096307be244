"""The warm-up lowers Docker's CPU priority while it builds, and sets it back however it ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy import warm_cache


@pytest.fixture
def docker_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A daemon's autogroup file and a cgroup v1 ``cpu.shares``, as the kernel shows them."""
    autogroup = tmp_path / "autogroup"
    cgroup = tmp_path / "cpu" / "docker"
    cgroup.mkdir(parents=True)
    autogroup.write_text("/autogroup-7 nice 0")
    (cgroup / "cpu.shares").write_text("1024")
    monkeypatch.setattr(warm_cache, "daemon_autogroups", lambda: [autogroup])
    monkeypatch.setattr(warm_cache, "DOCKER_CGROUPS", (cgroup, tmp_path / "absent"))
    return autogroup, cgroup / "cpu.shares"


def test_docker_runs_at_the_lowest_priority_inside_and_as_before_after(
    docker_files: tuple[Path, Path],
) -> None:
    autogroup, shares = docker_files
    with warm_cache.docker_at_lowest_priority():
        assert (autogroup.read_text(), shares.read_text()) == ("19", "15")
    assert (autogroup.read_text(), shares.read_text()) == ("0", "1024")
    assert not (autogroup.parent / "absent").exists(), "a missing cgroup is not created"


def test_priorities_are_set_back_when_the_build_fails(docker_files: tuple[Path, Path]) -> None:
    autogroup, shares = docker_files
    with pytest.raises(AssertionError), warm_cache.docker_at_lowest_priority():
        raise AssertionError("docker build failed")
    assert (autogroup.read_text(), shares.read_text()) == ("0", "1024")
