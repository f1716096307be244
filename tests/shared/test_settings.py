"""Settings: defaults, one-line errors naming the variable, masked secrets."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from cli.config_cmd import settings_markdown
from shared.broker import check_visibility_timeout
from shared.job_limits import longest_hard_time_limit_s
from shared.settings import Settings, SettingsError, load_settings
from tests.support import REPO

STYLIZE = Path(sys.executable).with_name("stylize")  # the console script, e.g. .venv/bin/stylize


def run_stylize(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("STYLIZE_")}
    return subprocess.run(
        [str(STYLIZE), *args], env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def run_config(**env: str) -> subprocess.CompletedProcess[str]:
    return run_stylize("config", "--json", **env)


def assert_one_line_naming(result: subprocess.CompletedProcess[str], variable: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0] and "Traceback" not in result.stderr


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
        ("STYLIZE_DATABASE_URL", "postgresql://u@h:abc/db"),
        ("STYLIZE_DATABASE_URL", "postgresql://u@h/db"),
        ("STYLIZE_DATABASE_URL", "mysql://u@h/db"),
        ("STYLIZE_STORAGE_URL", "s3://"),
        ("STYLIZE_S3_ENDPOINT_URL", "minio:9000"),
        ("STYLIZE_STORAGE_URL", "ftp://x"),
        ("STYLIZE_BROKER_URL", "http://127.0.0.1"),
        ("STYLIZE_MAX_STYLES", "-1"),
        ("STYLIZE_MAX_UPLOAD_BYTES", "lots"),
        ("STYLIZE_API_PORT", "70000"),
        ("STYLIZE_WEBHOOK_ALLOW", "10.0.0.0/8,not a host!"),
        ("STYLIZE_LOG_FORMAT", "xml"),
        ("STYLIZE_LOG_LEVEL", "loud"),
        ("STYLIZE_FLOWER_PORT", "0"),
        ("STYLIZE_HEARTBEAT_TIMEOUT_S", "0"),
        ("STYLIZE_REAPER_INTERVAL_S", "soon"),
        ("STYLIZE_RESEND_AFTER_S", "-5"),
        ("STYLIZE_WORKER_SHUTDOWN_S", "-1"),
        ("STYLIZE_DB_RETRY_S", "forever"),
    ],
)
def test_bad_value_is_one_line_naming_the_variable(variable: str, value: str) -> None:
    assert_one_line_naming(run_config(**{variable: value}), variable)


@pytest.mark.parametrize("command", [["db", "upgrade"], ["db", "current"], ["keys", "list"]])
def test_every_command_reports_bad_settings_in_one_line(command: list[str]) -> None:
    assert_one_line_naming(run_stylize(*command, STYLIZE_MAX_STYLES="-1"), "STYLIZE_MAX_STYLES")


def test_load_settings_raises_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STYLIZE_PROGRESS_DB_INTERVAL_S", "0")
    with pytest.raises(SettingsError, match="STYLIZE_PROGRESS_DB_INTERVAL_S"):
        load_settings()


def test_every_setting_is_read_by_the_code() -> None:
    """A setting exists because a line of code reads it: ``settings.<name>`` appears."""
    root = REPO
    sources = [
        path
        for folder in ("api", "worker", "shared", "cli")
        for path in (root / folder).rglob("*.py")
        if path.name != "settings.py"
    ]
    code = "".join(path.read_text() for path in sources)
    unread = [name for name in Settings.model_fields if f".{name}" not in code]
    assert unread == []


def test_the_default_visibility_timeout_outlasts_the_largest_job() -> None:
    check_visibility_timeout(Settings())
    assert Settings().visibility_timeout_s > longest_hard_time_limit_s()
    with pytest.raises(SettingsError, match="STYLIZE_VISIBILITY_TIMEOUT_S=3600 is shorter"):
        check_visibility_timeout(Settings(visibility_timeout_s=3600))


def test_the_worker_refuses_a_short_visibility_timeout_in_one_line() -> None:
    result = run_stylize("worker", STYLIZE_VISIBILITY_TIMEOUT_S="3600")
    assert_one_line_naming(result, "STYLIZE_VISIBILITY_TIMEOUT_S")
    assert f"at least {int(longest_hard_time_limit_s()) + 1}" in result.stderr


def test_config_masks_secrets() -> None:
    result = run_config(
        STYLIZE_DATABASE_URL="postgresql+psycopg://app:hunter2@db:5432/stylize",
        STYLIZE_S3_SECRET_KEY="s3cr3t",
        STYLIZE_S3_ACCESS_KEY="AKIAEXAMPLE",
        STYLIZE_BROKER_URL="redis://:brokerpw@cache:6379/0",
        STYLIZE_S3_ENDPOINT_URL="http://minio:9000/?token=tok123",
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert "hunter2" not in result.stdout and "s3cr3t" not in result.stdout
    for secret in ("AKIAEXAMPLE", "brokerpw", "tok123"):
        assert secret not in result.stdout
    assert shown["s3_secret_key"] == "****"
    assert shown["database_url"] == "postgresql+psycopg://app:****@db:5432/stylize"


def test_postgres_password_in_query_is_masked() -> None:
    url = "postgresql+psycopg://app@db/stylize?sslmode=require&password=hunter2"
    shown = Settings(database_url=url).masked()["database_url"]
    assert shown == "postgresql+psycopg://app@db/stylize?sslmode=require&password=****"


def test_settings_object_is_frozen() -> None:
    with pytest.raises(ValueError):
        Settings().max_styles = 3  # type: ignore[misc]


def load_settings_table_script() -> ModuleType:
    path = REPO / "docs" / "settings_table.py"
    spec = importlib.util.spec_from_file_location("settings_table", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_setting_is_documented() -> None:
    undocumented = [name for name, field in Settings.model_fields.items() if not field.description]
    assert undocumented == [], "give each setting a docstring: README's table is made from it"


def test_readme_settings_table_matches_the_settings_class() -> None:
    script = load_settings_table_script()
    table = script.readme_table(script.README.read_text())
    assert table == settings_markdown(), "run: .venv/bin/python docs/settings_table.py"
    for name in Settings.model_fields:
        assert f"`STYLIZE_{name.upper()}`" in table


def test_config_markdown_prints_the_table() -> None:
    result = run_stylize("config", "--markdown")
    assert result.returncode == 0, result.stderr
    assert result.stdout == settings_markdown()


def test_flower_basic_auth_must_be_user_and_password() -> None:
    bad = run_config(STYLIZE_FLOWER_BASIC_AUTH="admin")
    assert_one_line_naming(bad, "STYLIZE_FLOWER_BASIC_AUTH")
    shown = json.loads(run_config(STYLIZE_FLOWER_BASIC_AUTH="admin:pw1,ops:pw2").stdout)
    assert shown["flower_basic_auth"] == "****"
