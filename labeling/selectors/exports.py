"""Reads for the audit exports: every annotation of a campaign as a row, and per image the
annotators' labels for the Label Studio export."""
from __future__ import annotations

from collections import defaultdict
from datetime import UTC
from typing import Any

import pandas as pd

from labeling.exports.annotations import ANNOTATION_COLUMNS
from labeling.models import Adjudication, Annotation, Campaign
from labeling.selectors.quality import campaign_label_table


def _iso(value: Any) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _annotations(campaign: Campaign) -> list[tuple[Any, ...]]:
    return list(Annotation.objects.filter(item__campaign=campaign).order_by("item_id", "annotator__username")
                .values_list("item_id", "item__image_id", "item__image__uid", "item__image__dataset__name",
                             "item__image__source", "annotator__username", "label", "seconds", "created_at",
                             "updated_at"))


def annotation_frame(*, campaign: Campaign) -> pd.DataFrame:
    """One row per annotation (columns of ``labeling.exports.annotations``), ordered by item and
    annotator. Cost: one query for the annotations, one for adjudications, plus the final labels
    (``campaign_label_table``)."""
    rows = _annotations(campaign)
    decided: dict[int, str] = {}
    for item_id, label in (Adjudication.objects.filter(item__campaign=campaign).order_by("id")
                           .values_list("item_id", "label")):
        decided[item_id] = label  # the latest decision wins
    table = campaign_label_table(campaign=campaign)
    final, _ = table.final
    final_by_item = {int(i): (table.class_names[c] if c >= 0 else "")
                     for i, c in zip(table.item_ids.tolist(), final.tolist(), strict=True)}
    columns: dict[str, list[Any]] = {c: [] for c in ANNOTATION_COLUMNS}
    for item_id, image_id, uid, dataset, path, annotator, label, seconds, created, updated in rows:
        for column, value in (("item", item_id), ("image_id", image_id), ("uid", uid), ("dataset", dataset),
                              ("path", path), ("annotator", annotator), ("label", label),
                              ("seconds", float(seconds)), ("created_at", _iso(created)),
                              ("updated_at", _iso(updated)), ("adjudicated", item_id in decided),
                              ("adjudicated_label", decided.get(item_id, "")),
                              ("final_label", final_by_item.get(item_id, ""))):
            columns[column].append(value)
    frame = pd.DataFrame(columns, columns=ANNOTATION_COLUMNS)
    return frame.astype({"item": "int64", "image_id": "int64", "seconds": "float64", "adjudicated": "bool"})


def annotations_by_image(*, campaign: Campaign) -> dict[int, list[dict[str, Any]]]:
    """{image_id: [{annotator, label, seconds, created_at}]} for the Label Studio export."""
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for _item, image_id, _uid, _dataset, _path, annotator, label, seconds, created, _updated in _annotations(campaign):
        out[image_id].append({"annotator": annotator, "label": label, "seconds": float(seconds),
                              "created_at": _iso(created)})
    return dict(out)
