"""DataComp uid lists: sorted ``.npy`` arrays of dtype ``u8,u8`` (a uid's 32 hex characters as two
unsigned 64-bit halves), and subtracting one list from another.

``subtract_uid_list`` is the helper subset and mixture building call to drop, for example, the
pool images a contamination report found near test images::

    from classifier.ml.neighbours import subtract_uid_list
    clean = subtract_uid_list(subset_uids, "artifacts/contamination/7/exclude_uids.npy")
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

UID_DTYPE = np.dtype("u8,u8")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")


def uids_to_sorted_array(uids: Iterable[str]) -> np.ndarray:
    """Sorted, unique ``u8,u8`` array of 32-hex-character uids (ValueError on a malformed one)."""
    pairs = []
    for uid in uids:
        text = str(uid).strip().lower()
        if not _HEX32.match(text):
            raise ValueError(f"uid {uid!r} is not 32 hex characters")
        pairs.append((int(text[:16], 16), int(text[16:], 16)))
    return np.unique(np.array(pairs, dtype=UID_DTYPE))


def uids_from_array(array: np.ndarray) -> list[str]:
    return [f"{int(a):016x}{int(b):016x}" for a, b in np.asarray(array, dtype=UID_DTYPE).tolist()]


def save_uid_list(path: str | Path, uids: Iterable[str] | np.ndarray) -> Path:
    """Write a sorted uid list (temp file + rename); returns the path."""
    array = uids if isinstance(uids, np.ndarray) and uids.dtype == UID_DTYPE else uids_to_sorted_array(uids)
    array = np.unique(array)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)
    return path


def load_uid_list(path: str | Path) -> np.ndarray:
    array = np.load(path)
    if array.dtype != UID_DTYPE:
        raise ValueError(f"{path} is not a DataComp uid list (dtype {array.dtype}, expected u8,u8)")
    return array


def subtract_uid_list(uids: Iterable[str] | np.ndarray, exclusion: str | Path | np.ndarray) -> np.ndarray:
    """The uids of ``uids`` that are not in ``exclusion`` (a uid-list path or array), as a sorted
    ``u8,u8`` array ready for ``save_uid_list`` or DataComp's resharder. Cost: two sorts."""
    base = (np.unique(uids) if isinstance(uids, np.ndarray) and uids.dtype == UID_DTYPE
            else uids_to_sorted_array(uids))
    drop = np.unique(load_uid_list(exclusion) if isinstance(exclusion, str | Path) else exclusion)
    if drop.size == 0 or base.size == 0:
        return base
    at = np.searchsorted(drop, base)
    found = (at < drop.size) & (drop[np.minimum(at, drop.size - 1)] == base)
    return base[~found]
