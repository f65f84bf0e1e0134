"""Sample uids and DataComp-style id lists.

A uid is a 128-bit id written as 32 lowercase hex characters. On disk a subset is a sorted
``.npy`` of DataComp's dtype ``np.dtype("u8,u8")``: the uid's first 16 hex characters as the
first unsigned 64-bit field and the last 16 as the second, so
``(int(uid[:16], 16), int(uid[16:32], 16))``. Sorting the structured array orders by the first
field, then the second, which is the order of the hex strings.

Where an img2dataset shard's json carries no ``uid`` we derive one with the rule imports use too
(``labeling.ingest.uids``): ``md5(url)`` (utf-8) when the json has a ``url``, so the same web image
gets the same uid in every shard and every run; otherwise ``md5(key)`` of the webdataset key
(img2dataset keys are unique within one download, not across downloads).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from labeling.ingest.uids import derive_uid as shared_derive_uid

UID_DTYPE = np.dtype("u8,u8")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")


class UidError(ValueError):
    """A uid that is not 32 hex characters."""


def normalize_uid(uid: str) -> str:
    text = str(uid).strip().lower()
    if not _HEX32.match(text):
        raise UidError(f"uid {uid!r} is not 32 hex characters")
    return text


def derive_uid(*, meta: Mapping[str, Any] | None, key: str) -> tuple[str, str]:
    """``(uid, source)`` for one sample; source is ``json``, ``url`` or ``key`` (see module doc)."""
    meta = meta or {}
    given = meta.get("uid")
    if given:
        try:
            return normalize_uid(given), "json"
        except UidError:
            pass  # a malformed uid falls through to the derived ones rather than failing the shard
    url = meta.get("url")
    if url:
        return shared_derive_uid(url=str(url)), "url"
    return shared_derive_uid(key=key), "key"


def uids_to_array(uids: Iterable[str]) -> np.ndarray:
    """Structured ``u8,u8`` array, in input order (not sorted)."""
    pairs = [(int(u[:16], 16), int(u[16:32], 16)) for u in (normalize_uid(x) for x in uids)]
    return np.array(pairs, dtype=UID_DTYPE)


def array_to_uids(array: np.ndarray) -> list[str]:
    return [f"{int(a):016x}{int(b):016x}" for a, b in array.tolist()]


def sorted_uid_array(uids: Iterable[str]) -> np.ndarray:
    array = uids_to_array(uids)
    array.sort(order=["f0", "f1"])
    return array


def save_uid_list(path: str | Path, uids: Iterable[str] | np.ndarray) -> int:
    """Write a sorted DataComp-style list atomically; returns its length."""
    array = uids if isinstance(uids, np.ndarray) else sorted_uid_array(uids)
    if array.dtype != UID_DTYPE:
        raise UidError(f"uid arrays must have dtype {UID_DTYPE}, got {array.dtype}")
    array = np.sort(array, order=["f0", "f1"])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, array)
    tmp.replace(path)
    return int(len(array))


def load_uid_list(path: str | Path) -> np.ndarray:
    array = np.load(path)
    if array.dtype != UID_DTYPE:
        raise UidError(f"{path} has dtype {array.dtype}; a DataComp uid list has {UID_DTYPE}")
    return array


def uid_membership(sorted_ids: np.ndarray, uids: list[str]) -> np.ndarray:
    """Boolean mask: which of ``uids`` are in the sorted list (binary search, O(n log m))."""
    if not uids or len(sorted_ids) == 0:
        return np.zeros(len(uids), dtype=bool)
    query = uids_to_array(uids)
    index = np.searchsorted(sorted_ids, query)
    index = np.minimum(index, len(sorted_ids) - 1)
    return sorted_ids[index] == query
