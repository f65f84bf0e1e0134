"""Reading img2dataset webdataset shards: pattern expansion and per-sample iteration.

A shard is a tar whose members are ``KEY.EXT``; members sharing a key form one sample
(img2dataset writes ``KEY.jpg``, ``KEY.txt``, ``KEY.json`` consecutively). As in webdataset, the
key is the member path up to the first dot of its basename.
"""
from __future__ import annotations

import glob
import json
import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domainsieve.shards import expand_spec

IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")


class ShardPatternError(ValueError):
    """A pattern that names no shard, or names shards that do not exist."""


class CorruptShardError(ValueError):
    """A tar that cannot be read to its end."""


def expand_shards(pattern: str) -> list[Path]:
    """Shard paths of a shard spec (``domainsieve.shards``: ``::``-joined parts, braces, globs,
    folders). Every name must give shards: a brace name that is no file is an error, not a gap;
    a glob must match and a folder must hold tars. Sorted, deduplicated, resolved.
    """
    if not pattern or not pattern.strip():
        raise ShardPatternError("empty shard pattern: give a brace pattern like /data/{00000..00009}.tar or a glob")
    expansion = expand_spec(pattern)
    for name in expansion.missing:
        if glob.has_magic(name):
            raise ShardPatternError(f"glob {name!r} matches no file")
        if os.path.isdir(name):
            raise ShardPatternError(f"folder {name!r} holds no .tar shard")
    if expansion.missing:
        missing = expansion.missing
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise ShardPatternError(f"{len(missing)} shard(s) of {pattern!r} do not exist: {shown}")
    unique = sorted({str(Path(p).resolve()) for p in expansion.found})
    if not unique:
        raise ShardPatternError(f"pattern {pattern!r} names no shard")
    return [Path(p) for p in unique]


@dataclass
class Sample:
    key: str
    image: bytes | None = None
    image_ext: str = ""
    text: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, bytes] = field(default_factory=dict)  # every member by extension, for resharding


def _split_member(name: str) -> tuple[str, str]:
    directory, base = os.path.split(name)
    stem, _, ext = base.partition(".")
    return (os.path.join(directory, stem) if directory else stem), ext.lower()


def iter_samples(shard_path: str | Path) -> Iterator[Sample]:
    """Samples of one shard in tar order. Raises CorruptShardError if the tar breaks.

    A json that does not parse leaves ``meta`` empty (the sample still counts); missing images
    give ``image=None`` and the caller counts a skip.
    """
    current: Sample | None = None
    end_offset = 0
    try:
        with tarfile.open(shard_path, mode="r|*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                key, ext = _split_member(member.name)
                if not ext or key.startswith("__"):
                    continue
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
                if current is not None and current.key != key:
                    yield current
                    current = None
                if current is None:
                    current = Sample(key=key)
                current.raw[ext] = data
                if ext in IMAGE_EXTS and current.image is None:
                    current.image, current.image_ext = data, ext
                elif ext == "txt":
                    current.text = data.decode("utf-8", errors="replace")
                elif ext == "json":
                    try:
                        parsed = json.loads(data)
                        current.meta = parsed if isinstance(parsed, dict) else {}
                    except ValueError:
                        current.meta = {}
            end_offset = tar.offset
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise CorruptShardError(f"shard {shard_path} is corrupt or truncated: {exc}") from exc
    _check_end_marker(Path(shard_path), end_offset)
    if current is not None:
        yield current


def _check_end_marker(path: Path, offset: int) -> None:
    """tarfile stops quietly when a file is cut at a member boundary; a whole tar ends in zero blocks."""
    if path.suffix != ".tar":
        return  # compressed: the decompressor reports truncation itself
    with path.open("rb") as handle:
        handle.seek(offset)
        tail = handle.read(1024)
    if len(tail) < 1024 or tail.strip(b"\0"):
        raise CorruptShardError(f"shard {path} is corrupt or truncated: no end-of-archive marker after byte {offset}")
