"""Data roots: the server folders that jobs may read (training shards, checkpoints, extractor
weights). A path a user names is resolved with every symlink followed and must then lie inside
one of them; `..`, a symlink pointing out, or a relative path that lands elsewhere are refused.

``settings.DATA_ROOTS`` (env ``DATA_ROOTS``, ``os.pathsep``-separated) names them; empty means
``ARTIFACTS_ROOT``, ``MEDIA_ROOT`` and every ``IMPORT_ROOTS`` entry, read at call time so a test or
the demo that moves those roots moves these too.
"""
from __future__ import annotations

import glob
import os
from pathlib import Path

from django.conf import settings


class DataRootError(ValueError):
    """A path outside the configured data roots; the message names the path and the roots."""


def data_roots() -> list[Path]:
    configured = [Path(p) for p in getattr(settings, "DATA_ROOTS", []) or []]
    if not configured:
        configured = [Path(settings.ARTIFACTS_ROOT), Path(settings.MEDIA_ROOT),
                      *(Path(p) for p in settings.IMPORT_ROOTS)]
    return [root.resolve() for root in configured]


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def resolve_in_data_roots(path: str | os.PathLike[str], *, what: str) -> Path:
    """``path`` resolved (symlinks followed, ``..`` collapsed); DataRootError when it is not
    inside a data root. Existence is not checked here: the caller says what a missing file means."""
    text = os.fspath(path)
    if "\x00" in text or "\n" in text or "\r" in text:
        raise DataRootError(f"{what}: a path may not contain newlines or NUL bytes")
    roots = data_roots()
    resolved = Path(text).expanduser().resolve()
    if not _inside(resolved, roots):
        raise DataRootError(f"{what}: {text} resolves to {resolved}, outside the data roots "
                            f"({', '.join(str(r) for r in roots)}); see DATA_ROOTS")
    return resolved


def static_prefix(pattern: str) -> str:
    """The part of a brace or glob pattern before its first wildcard, cut back to a folder: what
    must lie inside a root before the pattern is expanded (so no answer tells what exists elsewhere)."""
    cut = len(pattern)
    for mark in ("{", "*", "?", "["):
        index = pattern.find(mark)
        if index != -1:
            cut = min(cut, index)
    if cut == len(pattern) and not glob.has_magic(pattern):
        return pattern
    head = pattern[:cut]
    return head if head.endswith(os.sep) else os.path.dirname(head) or "."
