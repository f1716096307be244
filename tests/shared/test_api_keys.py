"""API keys: hashed storage, authentication, revocation, and the `stylize keys` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from shared.api_keys import ApiKeyError, authenticate, create_key, hash_secret, revoke_key
from shared.db.session import session_factory


def test_secret_is_stored_only_as_hash(session: Session) -> None:
    key, secret = create_key(session, "ci")
    assert secret.startswith("sty_") and len(secret) > 40
    assert key.secret_hash == hash_secret(secret) and secret not in key.secret_hash
    assert authenticate(session, secret).id == key.id
    assert authenticate(session, secret + "x") is None
    assert authenticate(session, "") is None


def test_revoke_by_prefix_and_id(session: Session) -> None:
    key, secret = create_key(session, "a")
    assert revoke_key(session, key.prefix) is True
    assert authenticate(session, secret) is None
    assert revoke_key(session, str(key.id)) is False, "already revoked"
    with pytest.raises(ApiKeyError):
        revoke_key(session, "garbage")
    with pytest.raises(ApiKeyError):
        create_key(session, "   ")


STYLIZE = Path(sys.executable).with_name("stylize")  # the console script, e.g. .venv/bin/stylize


def run_cli(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STYLIZE_DATABASE_URL": database_url}
    return subprocess.run(
        [str(STYLIZE), *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_keys_command_prints_secret_last(sqlite_url: str) -> None:
    created = run_cli("keys", "create", "laptop", database_url=sqlite_url)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("sty_") and " " not in secret
    with session_factory(sqlite_url)() as session:
        key = authenticate(session, secret)
        assert key is not None and key.name == "laptop"
    assert key.webhook_secret and key.webhook_secret.startswith("whsec_")
    assert f"webhook signing secret (verifies webhook-signature): {key.webhook_secret}" in (
        created.stdout
    ), "the webhook secret is shown once, at creation"
    listed = run_cli("keys", "list", database_url=sqlite_url)
    assert "laptop" in listed.stdout and secret not in listed.stdout
    assert key.webhook_secret not in listed.stdout
    rotated = run_cli(
        "keys", "rotate-webhook-secret", key.prefix, "--overlap-hours", "1", database_url=sqlite_url
    )
    assert rotated.returncode == 0, rotated.stderr
    new_secret = rotated.stdout.strip().splitlines()[-1]
    with session_factory(sqlite_url)() as session:
        rotated_key = authenticate(session, secret)
        assert rotated_key.webhook_secret == new_secret != key.webhook_secret
        assert rotated_key.previous_webhook_secret == key.webhook_secret
    revoked = run_cli("keys", "revoke", str(key.id), database_url=sqlite_url)
    assert revoked.returncode == 0, revoked.stderr
    with session_factory(sqlite_url)() as session:
        assert authenticate(session, secret) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", ""], "1-100 characters"),
        (["revoke", "not-a-key"], "neither a key id"),
        (["revoke", "7f0c1d5e-0000-4000-8000-00000000000"], "neither a key id"),
        (["revoke", "7f0c1d5e-0000-4000-8000-000000000000"], "no active key matches"),
        (["rotate-webhook-secret", "sty_nobody"], "no active key matches"),
    ],
)
def test_keys_command_bad_input_is_one_line(sqlite_url: str, args: list[str], message: str) -> None:
    result = run_cli("keys", *args, database_url=sqlite_url)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and message in lines[0]


def test_keys_command_on_unmigrated_database_says_so(tmp_path: Path) -> None:
    result = run_cli("keys", "list", database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "stylize db upgrade" in result.stderr and "Traceback" not in result.stderr


def test_keys_command_makes_admin_keys_with_their_own_limits(sqlite_url: str) -> None:
    created = run_cli(
        "keys",
        "create",
        "ops",
        "--admin",
        "--max-active-jobs",
        "2",
        "--rate-limit-per-minute",
        "30",
        database_url=sqlite_url,
    )
    assert created.returncode == 0, created.stderr
    assert "created admin key" in created.stdout
    with session_factory(sqlite_url)() as session:
        key = authenticate(session, created.stdout.strip().splitlines()[-1])
        assert key is not None
        assert (key.is_admin, key.max_active_jobs, key.rate_limit_per_minute) == (True, 2, 30)
    listed = run_cli("keys", "list", database_url=sqlite_url).stdout
    assert "admin  max 2 active  30/min" in listed


@pytest.mark.parametrize("option", ["--max-active-jobs", "--rate-limit-per-minute"])
@pytest.mark.parametrize("value", ["0", "-3", "lots"])
def test_keys_command_refuses_bad_limits(sqlite_url: str, option: str, value: str) -> None:
    result = run_cli("keys", "create", "x", option, value, database_url=sqlite_url)
    assert result.returncode == 2 and option in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_limits_below_one_are_refused(session: Session) -> None:
    with pytest.raises(ApiKeyError, match="at least 1"):
        create_key(session, "x", max_active_jobs=0)
    key, _ = create_key(session, "ordinary")
    assert (key.is_admin, key.max_active_jobs, key.rate_limit_per_minute) == (False, None, None)
