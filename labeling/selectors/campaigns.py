"""Selectors (reads): campaigns."""
from __future__ import annotations
