"""``/v1/webhook-secret``: the secret that signs the webhooks of the caller's jobs."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import OwnerDep, ServicesDep
from featviz.signing import webhook_secret

router = APIRouter(prefix="/v1", tags=["webhooks"])


class WebhookSecret(BaseModel):
    secret: str = Field(
        description="Standard Webhooks' form (whsec_ and the key in base64): verify each "
        "delivery's webhook-signature with it, e.g. featviz_client.verify_webhook"
    )


@router.get("/webhook-secret", response_model=WebhookSecret)
def get_webhook_secret(owner: OwnerDep, services: ServicesDep) -> WebhookSecret:
    """The caller's key's webhook secret: the same on every call, as it is derived from the key
    and the service's secret (rotating ``FEATVIZ_SIGNING_SECRET`` rotates it)."""
    secret = services.settings.signing_secret.get_secret_value().encode()
    return WebhookSecret(secret=webhook_secret(secret, owner))
