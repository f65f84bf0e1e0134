"""The three label classes of the paper, by index and name.

Labels travel as names; files that mirror the paper's code may also carry the indices.
"""
from __future__ import annotations

NATURAL = "natural"
RENDITION = "rendition"
AMBIGUOUS = "ambiguous"
DOMAINS = (NATURAL, RENDITION, AMBIGUOUS)
DOMAIN_INDEX = {name: index for index, name in enumerate(DOMAINS)}
DOMAIN_CHOICES = [(name, name) for name in DOMAINS]
DEFAULT_HOTKEYS = {NATURAL: "1", RENDITION: "2", AMBIGUOUS: "3"}
DEFAULT_COLOURS = {NATURAL: "#2e9e44", RENDITION: "#d9480f", AMBIGUOUS: "#7048e8"}


def domain_from_any(value: object) -> str:
    """Accept a name, the paper's alias 'stylistic', or an index 0/1/2; raise ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"unknown label {value!r}")
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isascii() and value.strip().isdigit()
                                  and len(value.strip()) < 5):
        index = int(value)
        if 0 <= index < len(DOMAINS):
            return DOMAINS[index]
        raise ValueError(f"unknown label index {value!r}; expected 0, 1 or 2")
    if isinstance(value, str):
        name = value.strip().lower()
        if name == "stylistic":
            return RENDITION
        if name in DOMAIN_INDEX:
            return name
    raise ValueError(f"unknown label {value!r}; expected one of {', '.join(DOMAINS)}")
