"""Receiving the service's webhooks: check that a delivery is genuine and recent, and read it.

The service signs each delivery as Standard Webhooks say, with the secret of the API key that
submitted the job (``Client.webhook_secret()``). A receiver passes the raw body and the headers
it got; a delivery may come more than once (retries), with the same ``webhook-id``.

>>> event = verify_webhook(request_body, request_headers, secret)
>>> event.type, event.data["job_id"]
('job.completed', '...')
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from standardwebhooks import Webhook, WebhookVerificationError

from featviz_client.errors import FeatvizError


class WebhookSignatureError(FeatvizError):
    """A delivery whose signature does not match, or whose timestamp is over five minutes off."""


class WebhookEvent(BaseModel):
    """One delivery: ``job.status``, ``job.progress``, ``job.snapshot``, ``job.completed``,
    ``job.failed`` or ``job.canceled``; ``data`` holds ``job_id``, ``kind``, ``event_id`` and
    the event's own fields (a snapshot's ``path`` and metrics, a final ``status``...)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    type: str
    timestamp: datetime
    data: dict[str, Any]


def verify_webhook(body: bytes | str, headers: Mapping[str, str], secret: str) -> WebhookEvent:
    """The event a delivery carries, once its signature and timestamp are checked.

    Parameters
    ----------
    body
        The request's body, exactly as received.
    headers
        The request's headers (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``).
    secret
        The key's webhook secret (``whsec_...``).

    Raises
    ------
    WebhookSignatureError
        The delivery is not genuine, or not recent.
    """
    try:
        payload = Webhook(secret).verify(body, dict(headers))
    except WebhookVerificationError as error:
        raise WebhookSignatureError(str(error)) from error
    return WebhookEvent.model_validate(payload)
