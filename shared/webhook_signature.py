"""Signing webhook deliveries: HMAC-SHA256 of ``timestamp.body`` under the key's webhook secret.

``VERIFY_SNIPPET`` is what receivers are shown (in ``/docs`` and the README); a test runs it
against real deliveries, so the documentation and the signer cannot drift apart.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Stylize-Signature"
TIMESTAMP_HEADER = "X-Stylize-Timestamp"
DELIVERY_HEADER = "X-Stylize-Delivery"
EVENT_HEADER = "X-Stylize-Event"

VERIFY_SNIPPET = """\
import hashlib, hmac, time

def verify(secret: str, headers, body: bytes) -> bool:
    stamp = headers["X-Stylize-Timestamp"]
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(stamp)) < 300  # refuse replays of old deliveries
    return fresh and hmac.compare_digest("sha256=" + mac, headers["X-Stylize-Signature"])
"""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>``: the HMAC-SHA256 of ``b"<timestamp>." + body`` under ``secret``."""
    signed = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def delivery_headers(
    secret: str, body: bytes, *, event: str, delivery_id: str, timestamp: int
) -> dict[str, str]:
    """The headers of one delivery attempt (the signature covers this attempt's timestamp)."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "Stylize-Webhook/1",
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }
