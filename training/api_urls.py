from __future__ import annotations

from .api import urlpatterns

__all__ = ["urlpatterns"]
