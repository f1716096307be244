"""The documented verification snippet accepts our signature and refuses tampering and replays."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from shared.webhook_signature import VERIFY_SNIPPET, delivery_headers

README = Path(__file__).resolve().parents[2] / "README.md"


def documented_verify() -> Any:
    """The ``verify`` function of the README's snippet, which must be VERIFY_SNIPPET itself."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    snippet = next(block for block in blocks if "def verify(" in block)
    assert snippet == VERIFY_SNIPPET, "the README shows the snippet that /docs shows"
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)  # the receivers' code, run as they would run it
    return namespace["verify"]


def test_the_snippet_verifies_a_signed_body_and_refuses_changes() -> None:
    verify = documented_verify()
    body = b'{"id":"1","status":"succeeded"}'
    headers = delivery_headers(
        "whsec_x", body, event="completed", delivery_id="d-1", timestamp=int(time.time())
    )
    assert verify("whsec_x", headers, body)
    assert not verify("whsec_y", headers, body), "another key's secret"
    assert not verify("whsec_x", headers, body.replace(b"succeeded", b"failed"))
    old = delivery_headers(
        "whsec_x", body, event="completed", delivery_id="d-1", timestamp=int(time.time()) - 3600
    )
    assert not verify("whsec_x", old, body), "an old delivery replayed"
