"""Warm Docker for the boot stage while ``./dev test`` runs its other stages.

``./dev test`` runs this in the background when it runs the whole suite: prepare.sh (Docker and
the stand-ins), then the boot test's three images built on that base and tagged
``boot-cache`` (the warm-up's own tag is removed again; the build logs stay in
``$TMPDIR/stylize-boot-warm``, where the boot test reads the output of the steps it found in
the cache). Most of that time is downloads (Debian's packages, the wheels), which then overlap
the TensorFlow stage. The boot stage still runs prepare.sh and every build itself, from the
cache where this got that far, and reports every failure: this only says what it did, in its
log.

It must not take CPU time from the timed tests beside it: ``./dev test`` starts it in a
session whose autogroup has the lowest priority, and while it builds, Docker's daemon (its own
session) and the build steps' containers (Docker's cpu cgroup) get that priority too; both are
set back when it ends, so that the boot stage's containers run at full speed.

Usage: ``python -m tests.deploy.warm_cache`` (exit 0: warmed; otherwise prepare.sh's code or 1).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.deploy.docker_tools import (
    IMAGES,
    PREPARE,
    WARM_LOGS,
    WARM_TAG,
    build_images,
    remove_tags,
)

LOWEST_NICE = 19
# CPU weight of nice 19, as a cgroup's cpu.shares (v1) or cpu.weight (v2): Docker's build
# containers then rank with the other background stage (the JAX stage's autogroup).
LOWEST_SHARES = {"cpu.shares": "15", "cpu.weight": "1"}
DOCKER_CGROUPS = (Path("/sys/fs/cgroup/cpu/docker"), Path("/sys/fs/cgroup/docker"))
DAEMONS = ("dockerd", "containerd")


def daemon_autogroups() -> list[Path]:
    """The autogroup files of Docker's daemons (empty where none runs or autogroup is off)."""
    try:
        found = subprocess.run(["pidof", *DAEMONS], capture_output=True, text=True).stdout.split()
    except OSError:  # no pidof: the daemons keep their priority
        return []
    return [path for pid in found if (path := Path(f"/proc/{pid}/autogroup")).exists()]


@contextlib.contextmanager
def docker_at_lowest_priority() -> Iterator[None]:
    """Docker's daemons and build containers at the lowest CPU priority while the block runs,
    then as they were; where the kernel or the user does not allow it, nothing changes."""
    saved: list[tuple[Path, str]] = []
    settings = [(path, str(LOWEST_NICE)) for path in daemon_autogroups()]
    for cgroup in DOCKER_CGROUPS:
        for name, value in LOWEST_SHARES.items():
            settings.append((cgroup / name, value))
    try:
        for path, value in settings:
            with contextlib.suppress(OSError):
                before = path.read_text().split()[-1]  # autogroup reads "/autogroup-N nice M"
                path.write_text(value)
                saved.append((path, before))
        yield
    finally:
        for path, before in saved:
            with contextlib.suppress(OSError):
                path.write_text(before)


def end_on_sigterm(_signum: int, _frame: object) -> None:
    """``./dev test`` ends the warm-up with SIGTERM: unwind, so that priorities are restored."""
    raise SystemExit(143)


def main() -> int:
    signal.signal(signal.SIGTERM, end_on_sigterm)
    started = time.monotonic()
    prepared = subprocess.run([str(PREPARE)], stdout=subprocess.PIPE, text=True, timeout=1800)
    if prepared.returncode != 0:
        print(f"warm: prepare.sh exited {prepared.returncode}", file=sys.stderr)
        return prepared.returncode
    base = dict(line.split("=", 1) for line in prepared.stdout.split())["STYLIZE_BASE_IMAGE"]
    shutil.rmtree(WARM_LOGS, ignore_errors=True)
    WARM_LOGS.mkdir(parents=True)
    try:
        with docker_at_lowest_priority():
            built = build_images(base, WARM_TAG, WARM_LOGS)
    except AssertionError as failed:
        print(f"warm: {failed}", file=sys.stderr)
        return 1
    finally:
        remove_tags(*(f"stylize-{name}:{WARM_TAG}" for name in IMAGES))
    for name, done in built.items():
        print(f"warm: stylize-{name} built in {done.seconds:.0f} s", file=sys.stderr)
    print(f"warm: ready in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
