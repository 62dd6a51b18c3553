"""The worker's Celery app: ``celery -A worker.app worker --pool=solo -Q featviz``."""

from __future__ import annotations

from featviz.queue import create_celery
from featviz.settings import get_settings

app = create_celery(get_settings(), include=["worker.tasks"])
