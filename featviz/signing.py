"""What the service signs with its secret (``FEATVIZ_SIGNING_SECRET``): expiring links, whose
signature is their credential as an S3 presigned URL's is, and each API key's webhook secret.

Each use signs with its own key derived from the secret (HMAC-SHA256 of the use's name), so a
signature made for one use is worth nothing for another; rotating the secret rotates them all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

WEBHOOK_SECRET_PREFIX = "whsec_"
"""Standard Webhooks' spelling of a secret: ``whsec_`` and the key in base64."""


def derived_key(secret: bytes, use: str) -> bytes:
    """The key of one use of the secret."""
    return hmac.new(secret, use.encode(), hashlib.sha256).digest()


class LinkSigner:
    """Signs and checks expiring links to one kind of resource.

    Parameters
    ----------
    key
        The signing key.
    """

    def __init__(self, key: bytes) -> None:
        self.key = key

    def signature(self, subject: str, expires: int) -> str:
        message = f"{subject}\n{expires}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def query(self, subject: str, expires_in_s: int) -> dict[str, str]:
        """The query parameters of a link to ``subject`` valid for ``expires_in_s``."""
        expires = int(time.time()) + expires_in_s
        return {"expires": str(expires), "signature": self.signature(subject, expires)}

    def verify(self, subject: str, expires: int, signature: str) -> bool:
        """Whether a link is genuine and not yet expired."""
        # compare_digest raises on str with non-ASCII characters (found by schemathesis), and a
        # genuine signature is hex.
        genuine = signature.isascii() and hmac.compare_digest(
            self.signature(subject, expires), signature
        )
        return genuine and time.time() <= expires


def webhook_secret(secret: bytes, owner: str) -> str:
    """The secret that signs the webhooks of an API key's jobs (``owner``: the key's digest),
    derived rather than stored: ``GET /v1/webhook-secret`` tells it to the key's holder, and
    the workers compute it to sign."""
    key = hmac.new(derived_key(secret, "webhook secrets"), owner.encode(), hashlib.sha256)
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(key.digest()).decode()
