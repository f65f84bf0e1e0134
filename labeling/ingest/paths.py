"""Import roots: every path an import reads must resolve inside one of them.

Sources are server-side paths typed by a researcher, so they are checked before anything is
opened; every file found inside a source (tars in a folder, parquet sidecars, DomainNet list
files, manifest rows, symlinks, tar member names) is resolved (symlinks followed) and checked
again one by one, and one that escapes is rejected alone. Patterns are checked before they are
expanded: no ``..``, and the folder part before the first wildcard must resolve inside a root,
so the filesystem outside the roots is never listed and no answer depends on what exists there.
"""
from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from braceexpand import braceexpand

from .items import ImportSourceError

ESCAPES_ROOT = "path escapes the import root"


def _within(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def resolved_roots(roots: Sequence[str | Path]) -> list[Path]:
    return [Path(root).resolve() for root in roots]


def inside_roots(path: str | Path, roots: Sequence[Path]) -> Path | None:
    """The resolved path (symlinks followed) if it lies inside a root, else None."""
    try:
        resolved = Path(path).resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return None
    return resolved if _within(resolved, roots) else None


def has_pattern(source: str) -> bool:
    return any(ch in source for ch in "*?[{")


def _has_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def _static_prefix(pattern: str) -> str:
    """The folder part of a pattern before its first wildcard component (``/d/x`` of ``/d/x/*/a.tar``)."""
    cut = min((i for i, ch in enumerate(pattern) if ch in "*?[{"), default=len(pattern))
    return pattern[:cut].rsplit("/", 1)[0] or "/"


def check_pattern(pattern: str, roots: Sequence[Path]) -> None:
    """Refuse a pattern that could reach outside the roots, before anything is listed: a ``..``
    component, or a fixed folder part that does not resolve inside a root. The message is the same
    whatever exists out there."""
    if ".." in PurePosixPath(pattern).parts:
        raise ImportSourceError(f"'..' is not allowed in a pattern: {pattern}")
    if inside_roots(_static_prefix(pattern), roots) is None:
        raise ImportSourceError(f"{pattern} is outside the import roots ({_roots_text(roots)})")


def expand_pattern(source: str, roots: Sequence[Path]) -> list[Path]:
    """Paths matching a glob and/or brace pattern (``shards/{00000..00009}.tar``), checked, sorted.

    Braces are expanded first (glob does not know them) and each expansion is checked
    (``check_pattern``) before it is globbed. A brace-expanded name that does not exist is kept so
    the caller can report it as missing rather than silently importing less; a name that resolves
    outside the roots is refused. A glob match that resolves outside (a symlink inside a root) is
    left out silently, as if it did not exist, so the answer never tells what exists elsewhere.
    """
    found: dict[str, Path] = {}
    for pattern in braceexpand(source):
        check_pattern(pattern, roots)
        if not _has_glob(pattern):
            path = inside_roots(pattern, roots)
            if path is None:
                raise ImportSourceError(f"{pattern} is outside the import roots ({_roots_text(roots)})")
            found[str(path)] = path
            continue
        for match in glob.glob(pattern):
            path = inside_roots(match, roots)
            if path is not None:
                found[str(path)] = path
    if not found:
        raise ImportSourceError(f"no file matches {source}")
    return [found[k] for k in sorted(found)]


def check_source(source: str, roots: Sequence[Path]) -> Path:
    """The resolved source path, or ImportSourceError with a message a researcher can act on.

    For a pattern the folder before the first wildcard is checked (its matches are checked again
    when expanded).
    """
    if not source or not source.strip():
        raise ImportSourceError("no source given")
    if not roots:
        raise ImportSourceError("imports are disabled: settings.IMPORT_ROOTS is empty")
    text = os.path.expanduser(source.strip())
    if not os.path.isabs(text):
        raise ImportSourceError(f"source must be an absolute server path, got {source!r}")
    probe = text
    if has_pattern(text):
        check_pattern(text, roots)
        probe = _static_prefix(text)
    path = inside_roots(probe, roots)
    if path is None:
        raise ImportSourceError(f"{source} is outside the import roots ({_roots_text(roots)})")
    if not path.exists():
        raise ImportSourceError(f"{source} does not exist")
    return path


def safe_member_name(name: str) -> bool:
    """A tar member name that stays inside the archive: relative, no ``..`` component."""
    if not name or name.startswith("/") or "\\" in name:
        return False
    return ".." not in PurePosixPath(name).parts


def _roots_text(roots: Sequence[Path]) -> str:
    return ", ".join(str(r) for r in roots) or "none"
