"""The records that travel between listing, decoding workers and the database writer.

They are plain picklable dataclasses so a process pool can ship them; nothing here imports Django.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ImportSourceError(ValueError):
    """The import source as a whole is unusable (outside IMPORT_ROOTS, missing, no usable column)."""


@dataclass(frozen=True)
class Member:
    """A byte range inside a file: a tar member's data, or a whole file when ``offset`` is None."""

    path: str
    offset: int | None = None
    size: int | None = None


@dataclass
class Item:
    """One candidate image, listed but not yet read.

    ``source`` is what a person reads in the rejects CSV and what ``Image.source`` keeps: an
    absolute path, ``TAR:member`` for a shard member, or the url of a manifest row. ``error`` set
    at listing time means the item is rejected without being read (e.g. a path escaping the root).
    """

    source: str
    image: Member | None = None
    # Sidecar members of a webdataset sample: "txt" (caption) and "json" (metadata).
    sidecars: dict[str, Member] = field(default_factory=dict)
    key: str = ""
    uid: str = ""
    url: str = ""
    caption: str = ""
    class_name: str = ""
    domain: str = ""  # raw value from the source; validated in the worker
    meta: dict[str, Any] = field(default_factory=dict)
    error: str = ""


@dataclass
class Result:
    """What a worker reports for one item: either ``reason`` (rejected) or the stored file's facts."""

    item: Item
    reason: str = ""
    sha256: str = ""
    file: str = ""
    thumb: str = ""
    width: int = 0
    height: int = 0
    format: str = ""
    size_bytes: int = 0

    @property
    def ok(self) -> bool:
        return not self.reason


@dataclass(frozen=True)
class DecodeConfig:
    """Settings a worker needs, passed explicitly so workers never import Django settings."""

    media_root: str
    thumbnail_size: int = 256
    max_image_pixels: int = 89_478_485
    thumbnail_quality: int = 85
    draft: bool = True  # JPEG draft-mode decoding for thumbnails (DCT scaling)
    # An image file, tar member or sidecar larger than this is rejected before it is read
    # (settings.IMPORT_MAX_BYTES); 0 means no limit.
    max_bytes: int = 0
    # Resolved import roots: a file is re-checked against them when it is opened (it may have been
    # replaced by a symlink since it was listed). Empty: no check (callers that listed nothing).
    roots: tuple[str, ...] = ()


@dataclass
class Listing:
    """Everything a source yields: the items in a stable order plus source-level problems."""

    format: str
    items: list[Item]
    # (source, reason) for things that are not items, e.g. a shard whose tar header is unreadable.
    problems: list[tuple[str, str]] = field(default_factory=list)
