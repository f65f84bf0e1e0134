"""Services (writes): datasets."""
from __future__ import annotations
