"""Models of the classifier app."""
from __future__ import annotations
