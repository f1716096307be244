"""Deliveries are Standard Webhooks: the ``standardwebhooks`` package (what receivers use)
verifies them, and refuses other secrets, changed bodies and replays."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from shared.webhooks.signing import VERIFY_SNIPPET, delivery_headers, new_secret
from tests.support import REPO

README = REPO / "README.md"


def documented_verify() -> Any:
    """The ``verify`` function of the README's snippet, which must be VERIFY_SNIPPET itself."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    snippet = next(block for block in blocks if "def verify(" in block)
    assert snippet == VERIFY_SNIPPET, "the README shows the snippet that /docs shows"
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)  # the receivers' code, run as they would run it
    return namespace["verify"]


def test_secrets_are_whsec_and_24_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and secret != new_secret()
    Webhook(secret)  # the package accepts it


def test_the_documented_receiver_verifies_and_refuses_changes_and_replays() -> None:
    verify = documented_verify()
    secret, body = new_secret(), '{"type":"job.completed","data":{"status":"succeeded"}}'
    headers = delivery_headers([secret], "msg_1", body, datetime.now(UTC))
    assert verify(secret, headers, body.encode())["data"]["status"] == "succeeded"
    with pytest.raises(WebhookVerificationError):
        verify(new_secret(), headers, body.encode())  # another key's secret
    with pytest.raises(WebhookVerificationError):
        verify(secret, headers, body.replace("succeeded", "failed").encode())
    with pytest.raises(WebhookVerificationError):
        verify(secret, {**headers, "webhook-id": "msg_2"}, body.encode())  # the id is signed
    old = delivery_headers([secret], "msg_1", body, datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(WebhookVerificationError):
        verify(secret, old, body.encode())  # an old delivery replayed


def test_during_a_rotation_either_secret_verifies() -> None:
    new, old, body = new_secret(), new_secret(), "{}"
    headers = delivery_headers([new, old], "msg_1", body, datetime.now(UTC))
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(body, headers)
    Webhook(old).verify(body, headers)
