"""Settings: defaults, one-line errors naming the variable, masked secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from shared.settings import Settings, SettingsError, load_settings


def run_config(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("STYLIZE_")}
    return subprocess.run(
        [sys.executable, "-m", "cli", "config", "--json"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_defaults_work_on_one_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("STYLIZE_"):
            monkeypatch.delenv(key)
    settings = load_settings()
    assert settings.database_url == "sqlite:///./var/stylize.db"
    assert settings.storage_url == "file://./var/storage"
    assert settings.broker_url == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("STYLIZE_DATABASE_URL", "not a url"),
        ("STYLIZE_STORAGE_URL", "ftp://x"),
        ("STYLIZE_BROKER_URL", "http://127.0.0.1"),
        ("STYLIZE_MAX_STYLES", "-1"),
        ("STYLIZE_MAX_UPLOAD_BYTES", "lots"),
        ("STYLIZE_API_PORT", "70000"),
    ],
)
def test_bad_value_is_one_line_naming_the_variable(variable: str, value: str) -> None:
    result = run_config(**{variable: value})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0] and "Traceback" not in result.stderr


def test_load_settings_raises_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STYLIZE_HEARTBEAT_TIMEOUT_S", "0")
    with pytest.raises(SettingsError, match="STYLIZE_HEARTBEAT_TIMEOUT_S"):
        load_settings()


def test_config_masks_secrets() -> None:
    result = run_config(
        STYLIZE_DATABASE_URL="postgresql+psycopg://app:hunter2@db:5432/stylize",
        STYLIZE_S3_SECRET_KEY="s3cr3t",
        STYLIZE_S3_ACCESS_KEY="AKIAEXAMPLE",
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert "hunter2" not in result.stdout and "s3cr3t" not in result.stdout
    assert "AKIAEXAMPLE" not in result.stdout
    assert shown["database_url"] == "postgresql+psycopg://app:****@db:5432/stylize"


def test_settings_object_is_frozen() -> None:
    with pytest.raises(ValueError):
        Settings().max_styles = 3  # type: ignore[misc]
