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


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_keys_command_prints_secret_last(sqlite_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "STYLIZE_DATABASE_URL": sqlite_url}
    created = run_cli("keys", "create", "laptop", env=env)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    with session_factory(sqlite_url)() as session:
        assert authenticate(session, secret).name == "laptop"
    listed = run_cli("keys", "list", env=env)
    assert "laptop" in listed.stdout and secret not in listed.stdout
    bad = run_cli("keys", "revoke", "not-a-key", env=env)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "neither a key id" in bad.stderr
