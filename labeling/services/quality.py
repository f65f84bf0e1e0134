"""Services (writes): quality."""
from __future__ import annotations
