"""Selectors (reads): datasets."""
from __future__ import annotations
