"""prepare.sh says, in one line and with exit code 3, when Docker cannot run here; the boot test
turns exactly that into a skip (tests/deploy/docker_tools.py: prepare)."""

from __future__ import annotations

import os
import subprocess
import tempfile

from tests.deploy.docker_tools import CANNOT_RUN, PREPARE

NOBODY = 65534


def test_without_an_engine_or_the_right_to_start_one_prepare_says_docker_cannot_run() -> None:
    """As an unprivileged user (root drops to nobody) with no engine at DOCKER_HOST, prepare.sh
    can neither install nor start Docker: exit 3 and the reason, and nothing built."""
    command = [str(PREPARE)]
    if os.geteuid() == 0:
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]
    with tempfile.TemporaryDirectory() as scratch:  # pytest's own is closed to nobody
        os.chmod(scratch, 0o777)
        env = {
            "PATH": os.environ["PATH"],
            "TMPDIR": scratch,
            "DOCKER_HOST": f"unix://{scratch}/no-engine.sock",
        }
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == CANNOT_RUN, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("prepare: Docker cannot run on this machine: "), result.stderr
    assert "root" in last, last
    assert result.stdout == ""
