"""Services (writes): campaigns."""
from __future__ import annotations
