"""Every annotation as a row, for a reviewer to audit who said what, when and how fast. No Django
imports: rows in, bytes out.

Columns (CSV, JSONL and parquet, in this order):

    item, image_id, uid, dataset, path, annotator, label, seconds, created_at, updated_at,
    adjudicated, adjudicated_label, final_label

``item`` is the campaign item id, ``seconds`` the time the annotator spent on it, ``created_at`` /
``updated_at`` ISO 8601 in UTC (the first label, the last change), ``adjudicated`` whether an admin
decided the item (``adjudicated_label`` the latest decision, "" when none), ``final_label`` the
item's final label under the campaign's rule ("" when it has none).
"""
from __future__ import annotations

import io

import pandas as pd

ANNOTATION_COLUMNS = ["item", "image_id", "uid", "dataset", "path", "annotator", "label", "seconds", "created_at",
                      "updated_at", "adjudicated", "adjudicated_label", "final_label"]
ANNOTATION_FORMATS = ("csv", "jsonl", "parquet")


def write_annotations(frame: pd.DataFrame, fmt: str) -> bytes:
    missing = [c for c in ANNOTATION_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"annotation rows lack columns: {', '.join(missing)}")
    frame = frame[ANNOTATION_COLUMNS]
    if fmt == "csv":
        return frame.to_csv(index=False).encode()
    if fmt == "jsonl":
        return frame.to_json(orient="records", lines=True, force_ascii=False).encode()
    if fmt == "parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return buffer.getvalue()
    raise ValueError(f"annotation rows come as {', '.join(ANNOTATION_FORMATS)}, not {fmt!r}")
