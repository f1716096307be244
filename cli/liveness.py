"""A loop process's liveness: it touches a file after every pass; ``--check`` reads its age.

Container health checks (compose) and ``stylize up`` use ``--check``: exit 0 when the file
was touched within ``max_age_s``, 1 with one line otherwise.
"""

from __future__ import annotations

import signal
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def options(name: str, check_help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--alive-file`` and ``--check`` for the loop command ``stylize NAME``."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        command = click.option("--check", is_flag=True, help=check_help)(command)
        return click.option(
            "--alive-file",
            type=click.Path(dir_okay=False, path_type=Path),
            default=default_path(name),
            show_default=True,
            help="Touched after every pass (what --check reads).",
        )(command)

    return decorate


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT: the loop ends after its pass."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop
