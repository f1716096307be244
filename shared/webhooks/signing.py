"""Signing deliveries as the Standard Webhooks specification says (standardwebhooks.com).

Headers ``webhook-id`` (the message id, the same on every retry), ``webhook-timestamp`` (Unix
seconds of this attempt) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>`` of
``id.timestamp.body`` under the key's secret; one per valid secret, space-separated, while a
rotated-out secret is still valid). Secrets are ``whsec_`` + base64 of 24 random bytes.
``VERIFY_SNIPPET`` is the receiver shown in ``/docs`` and the README; a test runs it against
real deliveries.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks.webhooks import Webhook

from shared.db.api_key import ApiKey

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24

VERIFY_SNIPPET = """\
# pip install standardwebhooks
from standardwebhooks.webhooks import Webhook


def verify(secret: str, headers, body: bytes) -> dict:
    # Raises WebhookVerificationError for a forged, altered or older-than-5-minutes delivery.
    return Webhook(secret).verify(body, dict(headers))
"""


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def delivery_headers(
    signing_secrets: Sequence[str], message_id: str, body: str, at: datetime
) -> dict[str, str]:
    """The headers of one attempt sent at ``at``, signed with every secret still valid."""
    signatures = [Webhook(secret).sign(message_id, at, body) for secret in signing_secrets]
    return {
        "Content-Type": "application/json",
        "User-Agent": "Stylize-Webhook/2",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def signing_secrets(key: ApiKey, now: datetime) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous one until
    its overlap ends."""
    found = [key.webhook_secret] if key.webhook_secret else []
    until = key.previous_webhook_secret_until
    if key.previous_webhook_secret and until is not None and until > now:
        found.append(key.previous_webhook_secret)
    return found
