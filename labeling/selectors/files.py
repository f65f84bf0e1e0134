"""Server folders a researcher may import from: a listing confined to ``IMPORT_ROOTS``.

Paths are typed or clicked by a user, so each is resolved (symlinks followed) and must stay inside
a root before anything under it is listed; entries that resolve outside (a symlink out of the
root) are left out of the listing, never followed.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from labeling.ingest.items import ImportSourceError
from labeling.ingest.paths import inside_roots, resolved_roots

MAX_ENTRIES = 1000


def import_roots_listing(*, path: str | None, roots: Sequence[str | Path], limit: int = MAX_ENTRIES) -> dict[str, Any]:
    """The roots (no ``path``), or the folders and files directly under ``path``: folders first,
    by name, at most ``limit`` entries (``truncated`` says when more exist). Raises
    ImportSourceError for a path outside the roots, missing, or not a folder."""
    allowed = resolved_roots(roots)
    if not allowed:
        raise ImportSourceError("imports are disabled: settings.IMPORT_ROOTS is empty")
    if not path:
        return {"path": "", "parent": None, "roots": [str(r) for r in allowed], "truncated": False,
                "entries": [{"name": str(r), "path": str(r), "kind": "dir", "size": None} for r in allowed]}
    if not os.path.isabs(path):
        raise ImportSourceError(f"give an absolute server path, got {path!r}")
    folder = inside_roots(path, allowed)
    if folder is None:
        raise ImportSourceError(f"{path} is outside the import roots ({', '.join(str(r) for r in allowed)})")
    if not folder.is_dir():
        raise ImportSourceError(f"{path} is not a folder" if folder.exists() else f"{path} does not exist")
    entries = []
    truncated = False
    with os.scandir(folder) as it:
        for entry in sorted(it, key=lambda e: (not e.is_dir(), e.name)):
            if entry.name.startswith("."):
                continue
            target = inside_roots(entry.path, allowed)
            if target is None:
                continue  # a symlink leading out of the roots
            if len(entries) >= limit:
                truncated = True
                break
            is_dir = target.is_dir()
            entries.append({"name": entry.name, "path": str(folder / entry.name), "kind": "dir" if is_dir else "file",
                            "size": None if is_dir else target.stat().st_size})
    parent = None if folder in allowed else folder.parent
    return {"path": str(folder), "parent": None if parent is None else str(parent),
            "roots": [str(r) for r in allowed], "truncated": truncated, "entries": entries}
