"""The layering rule of the house (docs/architecture.md), read from every import statement,
lazy ones included."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO

ROOT = REPO
FRAMEWORKS = ("tensorflow", "keras", "jax")

# package -> top-level modules it must never import
FORBIDDEN = {
    "shared": ("flask", "celery", *FRAMEWORKS, "api", "worker", "cli", "bench", "migrations"),
    "api": (*FRAMEWORKS, "worker", "cli", "bench"),
    "worker": ("flask", "api", "cli", "bench"),
    "migrations": ("api", "worker", "cli", "bench"),
    # the client speaks HTTP only: installable and importable without the service's stack
    "client": (
        "flask",
        "celery",
        "redis",
        "sqlalchemy",
        *FRAMEWORKS,
        "api",
        "worker",
        "shared",
        "cli",
        "bench",
        "migrations",
    ),
}


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports, at any depth of its code."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_stay_in_their_lane(package: str) -> None:
    sources = list((ROOT / package).rglob("*.py"))
    assert len(sources) >= 5, f"found only {len(sources)} modules of {package} under {ROOT}"
    broken = {
        str(path.relative_to(ROOT)): sorted(imported_modules(path) & set(FORBIDDEN[package]))
        for path in sources
    }
    assert {path: names for path, names in broken.items() if names} == {}


def test_importing_the_run_checks_never_loads_keras() -> None:
    """The hook types are framework-free: the worker's hooks import without Keras."""
    code = (
        "import sys, worker.run_checks.progress_report, worker.engine\n"
        f"loaded = [m for m in sys.modules if m.split('.')[0] in {FRAMEWORKS!r}]\n"
        "assert not loaded, loaded[:5]\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
