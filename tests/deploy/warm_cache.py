"""Warm Docker for the boot stage while ``./dev test`` runs its other stages.

``./dev test`` runs this in the background when it runs the whole suite: prepare.sh (Docker and
the stand-ins), then the boot test's three images built on that base and tagged
``boot-cache`` (the warm-up's own tag is removed again; the build logs stay in
``$TMPDIR/stylize-boot-warm``, where the boot test reads the output of the steps it found in
the cache). Most of that time is downloads (Debian's packages, the wheels), which then overlap
the TensorFlow stage. The boot stage still runs prepare.sh and every build itself, from the
cache where this got that far, and reports every failure: this only says what it did, in its
log.

Usage: ``python -m tests.deploy.warm_cache`` (exit 0: warmed; otherwise prepare.sh's code or 1).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

from tests.deploy.docker_tools import (
    IMAGES,
    PREPARE,
    WARM_LOGS,
    WARM_TAG,
    build_images,
    remove_tags,
)


def main() -> int:
    started = time.monotonic()
    prepared = subprocess.run([str(PREPARE)], stdout=subprocess.PIPE, text=True, timeout=1800)
    if prepared.returncode != 0:
        print(f"warm: prepare.sh exited {prepared.returncode}", file=sys.stderr)
        return prepared.returncode
    base = dict(line.split("=", 1) for line in prepared.stdout.split())["STYLIZE_BASE_IMAGE"]
    shutil.rmtree(WARM_LOGS, ignore_errors=True)
    WARM_LOGS.mkdir(parents=True)
    try:
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
