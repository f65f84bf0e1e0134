"""Figures for reading: fractions as percent, thresholds rounded. JSON and CSV keep the exact
values; pages show these, with the exact value in a ``title`` where it matters."""
from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def pct(value: Any, digits: int = 1) -> str:
    """A 0..1 fraction as a percent number without the sign: 0.98765 -> "98.8"; None -> "–"."""
    if value is None or value == "":
        return "–"
    try:
        return f"{100 * float(value):.{int(digits)}f}"
    except (TypeError, ValueError):
        return "–"


@register.filter
def rounded(value: Any, digits: int = 3) -> str:
    """A score threshold for reading: 0.912345678 -> "0.912", 12.3456 -> "12.346"; None -> "–"."""
    if value is None or value == "":
        return "–"
    try:
        return f"{float(value):.{int(digits)}f}"
    except (TypeError, ValueError):
        return "–"
