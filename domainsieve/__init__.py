"""DomainSieve: sort web-scale image data by visual domain, with people in the loop."""
from __future__ import annotations

from .celery import app as celery_app

__all__ = ["celery_app"]
