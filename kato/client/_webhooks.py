"""Receiving the manager's webhooks: check the signature, then read the event.

from kato.client import verify_webhook, WebhookSignatureError
try:
    event = verify_webhook(raw_body, request.headers.get("X-Kato-Signature"), secret)
except WebhookSignatureError:
    return 401
"""

from __future__ import annotations

import json

from kato.webhook_signing import SignatureMismatch, verify

from ._errors import ProtocolError, WebhookSignatureError
from ._models import Event

__all__ = ["verify_webhook"]


def verify_webhook(
    body: bytes, signature: str | None, secret: str, *, tolerance: float = 300.0
) -> Event:
    """The event of a delivery whose `X-Kato-Signature` matches `body` under `secret` and is
    at most `tolerance` seconds old; `WebhookSignatureError` otherwise. Deliveries are at
    least once: deduplicate on `event.id`."""
    try:
        verify(secret, body, signature, tolerance=tolerance)
    except SignatureMismatch as exc:
        raise WebhookSignatureError(str(exc), status=401, code="KATO_BAD_SIGNATURE") from None
    try:
        return Event.from_dict(json.loads(body))
    except ValueError as exc:
        raise ProtocolError("webhook body is not an event", code="KATO_BAD_RESPONSE") from exc
