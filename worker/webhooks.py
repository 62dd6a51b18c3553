"""The webhook dispatcher: every worker runs one in a thread of its own, beside the job it runs,
so a slow or failing receiver never holds a job up.

It posts each due delivery (``featviz.store.deliveries``) as Standard Webhooks say: a JSON body
``{"type": "job.{event}", "timestamp", "data"}`` and the headers ``webhook-id`` (the same for
every attempt), ``webhook-timestamp`` and ``webhook-signature`` (HMAC-SHA256 with the job's key's
secret, ``featviz.signing.webhook_secret``). A 2xx answer delivers it; anything else, no answer
or a refused URL is retried after a backoff that doubles, ``FEATVIZ_WEBHOOK_ATTEMPTS`` times in
all. Redirects are not followed. Before each attempt the URL is checked again and the request
goes to the very addresses checked (``featviz.webhook_urls``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import redis
from standardwebhooks import Webhook

from featviz import __version__
from featviz.outputs import ImageFile
from featviz.records import ImageEntry
from featviz.settings import Settings
from featviz.signing import webhook_secret
from featviz.store.deliveries import Deliveries, Delivery, Target
from featviz.webhook_urls import RefusedURLError, allowed_addresses, parts

logger = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.5
TAKEN_AT_ONCE = 20
MAX_ERROR_CHARS = 300


def webhook_body(delivery: Delivery, target: Target) -> dict[str, Any]:
    """A delivery's payload: the event, with its job, and a snapshot's image by its path in
    the job's folder (download links expire; ``GET /v1/jobs/{id}`` gives fresh ones)."""
    event = delivery.event
    details = event.data
    if event.type == "snapshot":
        details = ImageFile.recorded(ImageEntry.model_validate(details)).model_dump(mode="json")
    return {
        "type": f"job.{event.type}",
        "timestamp": event.at.isoformat(),
        "data": {"job_id": delivery.job_id, "kind": target.kind, "event_id": event.id, **details},
    }


class WebhookDispatcher:
    """Delivers due webhooks every ``POLL_INTERVAL_S``, one at a time.

    Parameters
    ----------
    client
        The job store's Redis client.
    settings
        The webhook settings and the secret their signatures derive from.
    """

    def __init__(self, client: redis.Redis[str], settings: Settings) -> None:
        self.deliveries = Deliveries(client)
        self.settings = settings
        self._secret = settings.signing_secret.get_secret_value().encode()
        self._http = httpx.Client(timeout=settings.webhook_timeout_s, follow_redirects=False)
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def deliver_due(self) -> int:
        """Attempt every delivery due now; returns how many were attempted."""
        # httpx's timeout bounds each phase of a request (connect, write, read), not the whole.
        hold_s = 4 * self.settings.webhook_timeout_s + 5
        due = self.deliveries.take(TAKEN_AT_ONCE, hold_s)
        for delivery in due:
            self.deliver(delivery)
        return len(due)

    def deliver(self, delivery: Delivery) -> None:
        """One attempt at a delivery, recorded on its job."""
        settings = self.settings
        target = self.deliveries.target(delivery.job_id)
        attempts = settings.webhook_attempts
        status: int | None
        error: str | None
        if target is None:
            status, error, attempts = None, "the job no longer exists", 1
        else:
            status, error = self._post(delivery, target)
        outcome = self.deliveries.settle(
            delivery, status, error, attempts, settings.webhook_backoff_s
        )
        log = logger.info if error is None else logger.warning
        log("webhook %s: %s (%s)", delivery.id, outcome, error or status)

    def _post(self, delivery: Delivery, target: Target) -> tuple[int | None, str | None]:
        """The HTTP status an attempt got (None: no answer), and why it failed (None: it did
        not)."""
        settings = self.settings
        try:
            addresses = allowed_addresses(
                target.url, settings.webhook_hosts, settings.webhook_private_networks
            )
        except RefusedURLError as error:
            return None, f"refused: webhook {error}"
        host, _ = parts(target.url)
        body = json.dumps(webhook_body(delivery, target), separators=(",", ":"))
        message_id = delivery.id.replace("/", "_")
        sent_at = int(time.time())
        signature = Webhook(webhook_secret(self._secret, target.owner)).sign(
            message_id, datetime.fromtimestamp(sent_at, UTC), body
        )
        url = httpx.URL(target.url)
        request = self._http.build_request(
            "POST",
            url.copy_with(host=str(addresses[0])),
            content=body,
            headers={
                "Host": url.netloc.decode(),
                "Content-Type": "application/json",
                "User-Agent": f"featviz-webhooks/{__version__}",
                "webhook-id": message_id,
                "webhook-timestamp": str(sent_at),
                "webhook-signature": signature,
            },
            # The certificate is checked against the host named, not the address dialled.
            extensions={"sni_hostname": host},
        )
        try:
            response = self._http.send(request)
        except httpx.HTTPError as error:
            return None, f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]
        if response.is_success:
            return response.status_code, None
        return response.status_code, f"HTTP {response.status_code}"

    def _run(self) -> None:
        while True:
            try:
                if self.deliver_due():
                    continue
            except Exception:
                # Redis may be down for a while; the next pass tries again.
                logger.exception("webhook dispatcher pass failed")
            time.sleep(POLL_INTERVAL_S)
