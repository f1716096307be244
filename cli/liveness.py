"""A loop process's liveness: it touches a file after every pass; ``--check`` reads its age.

Container health checks (compose) and ``stylize up`` use ``--check``: exit 0 when the file
was touched within ``max_age_s``, 1 with one line otherwise.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click


def default_path(name: str) -> Path:
    """Where ``stylize NAME`` keeps its liveness file unless told otherwise."""
    return Path(tempfile.gettempdir()) / f"stylize-{name}.alive"


def touch(path: Path) -> None:
    """Record that the loop completed a pass now."""
    path.touch()


def is_fresh(path: Path, max_age_s: float) -> bool:
    """Whether ``path`` was touched within ``max_age_s``."""
    try:
        return time.time() - path.stat().st_mtime <= max_age_s
    except OSError:
        return False


def check(path: Path, max_age_s: float, name: str) -> None:
    """Exit 0 if the loop is alive, else 1 with one line saying so."""
    if is_fresh(path, max_age_s):
        click.echo(f"{name}: alive")
        raise SystemExit(0)
    click.echo(f"{name}: no pass in the last {max_age_s:.0f} s ({path})", err=True)
    raise SystemExit(1)
