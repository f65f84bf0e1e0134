"""Selectors (reads): quality."""
from __future__ import annotations
