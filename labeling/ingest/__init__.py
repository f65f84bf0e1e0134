"""Image ingest: format readers, safe decoding and thumbnails, and the parallel loop.

Django-free on purpose: pool workers import it without settings or a database. The service
``labeling.services.datasets.import_run`` drives it and writes the rows.

    listing = list_source(source, "auto", roots)        # no decoding yet
    items = sample_items(listing.items, n, seed)
    for result in run_items(items, cfg, workers=4):     # files + thumbnails written
        ...                                             # then insert rows in bulk
"""
from __future__ import annotations

from .items import DecodeConfig, ImportSourceError, Item, Listing, Member, Result
from .paths import check_source, resolved_roots
from .pipeline import run_items, sample_items
from .readers import DOMAINNET_DOMAINS, FORMATS, list_source

__all__ = [
    "DOMAINNET_DOMAINS", "FORMATS", "DecodeConfig", "ImportSourceError", "Item", "Listing", "Member",
    "Result", "check_source", "list_source", "resolved_roots", "run_items", "sample_items",
]
