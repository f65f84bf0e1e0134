"""Shard specs: the one way apply jobs, resharding and training mixtures name webdataset shards.

A spec is one or more parts joined by ``::`` (OpenCLIP's separator). Each part is brace-expanded
(``/data/{00000..00099}.tar``), then every resulting name is read as a glob when it has ``*``,
``?`` or ``[`` (the files that match), as a directory (its ``*.tar`` files), or as a file. Names
that give nothing (a brace name that is no file, a glob without a match, a folder without tars)
are returned as missing, so each caller decides whether that is an error; none is dropped
silently. (Imports read their sources with their own rules: server roots, per-item rejects.)
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

from braceexpand import braceexpand

SEPARATOR = "::"


@dataclass
class Expansion:
    """Existing shard paths (sorted and deduplicated within each part, parts in the order given)
    and the names that matched nothing, in the order met."""

    found: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def spec_parts(spec: str) -> list[str]:
    """The non-empty ``::`` parts of a spec, stripped."""
    return [part.strip() for part in spec.split(SEPARATOR) if part.strip()]


def expand_part(part: str) -> Expansion:
    """One part (no ``::``): braces, then glob / directory / file per name."""
    result = Expansion()
    seen: set[str] = set()
    for name in braceexpand(part):
        if glob.has_magic(name):
            matches = sorted(p for p in glob.glob(name) if os.path.isfile(p))
        elif os.path.isdir(name):
            matches = sorted(glob.glob(os.path.join(glob.escape(name), "*.tar")))
        else:
            matches = [name] if os.path.isfile(name) else []
        if not matches:
            result.missing.append(name)
        for match in matches:
            if match not in seen:
                seen.add(match)
                result.found.append(match)
    result.found.sort()
    return result


def expand_spec(spec: str) -> Expansion:
    """Every part of a spec; ``found`` holds each shard once (by resolved path), in part order."""
    result = Expansion()
    seen: set[Path] = set()
    for part in spec_parts(spec):
        expansion = expand_part(part)
        result.missing += expansion.missing
        for path in expansion.found:
            resolved = Path(path).resolve()
            if resolved not in seen:
                seen.add(resolved)
                result.found.append(path)
    return result


TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")
_HEADER_CHECKS = 8  # open the first few files: a renamed uid list or parquet is caught, 10k shards stay cheap


class NotAShardError(ValueError):
    """A file given as a shard that is no webdataset tar (a uid list, a parquet, an image...)."""


def check_tar_shards(paths: list[str]) -> None:
    """Refuse any path that is not a webdataset tar: by name for all, by header for the first few.

    A subset's uid list (``.npy``) is the usual mistake: it names samples, not their bytes, and
    becomes shards through ``reshard``.
    """
    import tarfile

    for position, path in enumerate(paths):
        name = os.path.basename(path)
        if not name.lower().endswith(TAR_SUFFIXES):
            if name.lower().endswith(".npy"):
                raise NotAShardError(f"{path} is a uid list (.npy), not webdataset shards: reshard the subset "
                                     "first (the apply job's page, or manage.py reshard) and give its .tar files")
            raise NotAShardError(f"{path} is not a webdataset shard: give .tar files (a brace pattern, "
                                 "a glob or a folder of .tar)")
        if position < _HEADER_CHECKS and not tarfile.is_tarfile(path):
            raise NotAShardError(f"{path} is named like a tar but is not one")
