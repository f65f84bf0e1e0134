"""The one rule for a sample's uid where its source gives none (import and apply share it).

A uid is 32 lowercase hex characters (128 bits, DataComp style). Derived, in order:
1. ``md5(url)`` (utf-8) when the sample has a url: the same web image gets the same uid in every
   shard, every run and every import;
2. else ``md5(key)`` of its webdataset key (img2dataset keys are unique within one download);
3. else ``md5(source)``, the path it was imported from.
"""
from __future__ import annotations

import hashlib


def derive_uid(*, url: str = "", key: str = "", source: str = "") -> str:
    basis = url or key or source
    return hashlib.md5(str(basis).encode("utf-8")).hexdigest()
