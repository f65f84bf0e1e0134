"""Label file formats: writers for CSV, JSONL, parquet, Label Studio and the paper's labels.json,
and a reader for Label Studio JSON exports. No Django imports: rows in, bytes out.

Rows are a pandas DataFrame with the columns in ``COLUMNS``:

    uid, dataset, path, label, label_index, label_count, agreement, split

``label`` is the final label's name ("" when the item has none), ``label_index`` its index in the
campaign's classes (-1 when none; 0 natural, 1 rendition, 2 ambiguous for the default classes),
``label_count`` the number of annotators' labels, ``agreement`` the fraction of them equal to the
final label (empty when there are none), ``split`` train/val/test/unused or "". The Label Studio
writer also reads ``image_id`` and ``image_url``.

Formats
-------
``csv``, ``jsonl``, ``parquet``: one row per item, the columns above, in that order.

``labelstudio``: a JSON list of Label Studio tasks, importable as tasks with choice annotations::

    [{"id": 1,
      "data": {"image": "https://host/api/v1/images/7/file/", "uid": "abc"},
      "annotations": [{"result": [{"id": "r1", "from_name": "label", "to_name": "image",
                                   "type": "choices", "value": {"choices": ["natural"]}}]}],
      "meta": {"uid": "abc", "dataset": "laion", "image_id": 7, "label_count": 3,
               "agreement": 1.0, "split": "train"}}]

Items without a final label get ``"annotations": []``. With every annotator's labels (the
``annotators`` option), each task also carries one annotation per annotator with
``"completed_by": {"username": ...}``, ``lead_time`` (seconds) and ``created_at``, and the final
label's annotation gets ``"ground_truth": true``.

Annotation rows (``labeling.exports.annotations``): one row per annotation, for auditing; see there. ``labelstudio_config(names)`` gives the
matching labeling config (``<Image name="image" value="$image"/>`` and ``<Choices name="label">``).

``labels_json`` (the paper code's shape): one JSON object mapping each labelled image's uid
(its source path when it has no uid) to its label index, e.g. ``{"abc": 0, "def": 2}``.
Items without a final label are left out.

Reading Label Studio exports: ``parse_labelstudio`` accepts Label Studio's JSON export (a list of
tasks, each with ``annotations[].result[].value.choices``), skips cancelled annotations, and
returns one entry per annotation with the task's uid (``data.uid`` or ``meta.uid``) and image URL
so the caller can match tasks back to images.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import quoteattr

import pandas as pd

COLUMNS = ["uid", "dataset", "path", "label", "label_index", "label_count", "agreement", "split"]
FORMATS = ("csv", "jsonl", "parquet", "labelstudio", "labels_json")
CONTENT_TYPES = {
    "csv": "text/csv", "jsonl": "application/x-ndjson", "parquet": "application/vnd.apache.parquet",
    "labelstudio": "application/json", "labels_json": "application/json",
}
EXTENSIONS = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet", "labelstudio": "json", "labels_json": "json"}


def _check(frame: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"rows lack columns: {', '.join(missing)}")
    return frame


def write_csv(frame: pd.DataFrame) -> bytes:
    return _check(frame)[COLUMNS].to_csv(index=False).encode()


def write_jsonl(frame: pd.DataFrame) -> bytes:
    text = _check(frame)[COLUMNS].to_json(orient="records", lines=True, force_ascii=False)
    return text.encode()


def write_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    _check(frame)[COLUMNS].to_parquet(buffer, index=False)
    return buffer.getvalue()


def labelstudio_config(class_names: list[str]) -> str:
    """The Label Studio labeling config that matches ``write_labelstudio``'s tasks."""
    choices = "\n".join(f"    <Choice value={quoteattr(name)}/>" for name in class_names)
    return ('<View>\n  <Image name="image" value="$image"/>\n'
            f'  <Choices name="label" toName="image" choice="single" showInLine="true">\n{choices}\n'
            "  </Choices>\n</View>\n")


def labelstudio_tasks(frame: pd.DataFrame, annotations: dict[int, list[dict[str, Any]]] | None = None,
                      ) -> list[dict[str, Any]]:
    """Tasks with the final label as their annotation; with ``annotations`` ({image_id: [{annotator,
    label, seconds, created_at}]}) every annotator's label too, each with ``completed_by``, and the
    final one marked ``ground_truth``."""
    frame = _check(frame)
    # Column lists, not per-row pandas access: 31,000 tasks in a fraction of a second.
    agreement = [None if a != a else float(a) for a in frame["agreement"].tolist()]  # NaN -> None
    columns = zip(frame["uid"].tolist(), frame["dataset"].tolist(), frame["label"].tolist(),
                  frame["label_count"].tolist(), frame["split"].tolist(), frame["image_id"].tolist(),
                  frame["image_url"].tolist(), agreement, strict=True)
    tasks = []
    for number, (uid, dataset, label, label_count, split, image_id, url, agree) in enumerate(columns, start=1):
        task_annotations = []
        if label:
            task_annotations = [{"result": [{"id": f"r{number}", "from_name": "label", "to_name": "image",
                                             "type": "choices", "value": {"choices": [label]}}]}]
        if annotations is not None:
            for final in task_annotations:
                final["ground_truth"] = True
            for k, a in enumerate(annotations.get(int(image_id), []), start=1):
                task_annotations.append({
                    "completed_by": {"username": a["annotator"]}, "lead_time": a["seconds"],
                    "created_at": a["created_at"],
                    "result": [{"id": f"r{number}a{k}", "from_name": "label", "to_name": "image",
                                "type": "choices", "value": {"choices": [a["label"]]}}]})
        tasks.append({
            "id": number,
            "data": {"image": url, "uid": uid},
            "annotations": task_annotations,
            "meta": {"uid": uid, "dataset": dataset, "image_id": int(image_id), "label_count": int(label_count),
                     "agreement": agree, "split": split},
        })
    return tasks


def write_labelstudio(frame: pd.DataFrame, annotations: dict[int, list[dict[str, Any]]] | None = None) -> bytes:
    return json.dumps(labelstudio_tasks(frame, annotations), ensure_ascii=False).encode()


def write_labels_json(frame: pd.DataFrame) -> bytes:
    frame = _check(frame)
    labelled = frame[frame["label_index"] >= 0]
    keys = labelled["uid"].where(labelled["uid"] != "", labelled["path"])
    if keys.duplicated().any():
        raise ValueError("two labelled images share a uid; labels.json needs unique keys")
    return json.dumps(dict(zip(keys, labelled["label_index"].astype(int).tolist(), strict=True))).encode()


WRITERS = {"csv": write_csv, "jsonl": write_jsonl, "parquet": write_parquet, "labelstudio": write_labelstudio,
           "labels_json": write_labels_json}


def write(frame: pd.DataFrame, fmt: str) -> bytes:
    if fmt not in WRITERS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return WRITERS[fmt](frame)


@dataclass(frozen=True)
class LabelStudioLabel:
    task_id: Any
    uid: str
    image: str
    label: str
    completed_by: str  # a username/email when the export carries one, else the user id as text, else ""


def _who(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("username") or value.get("email") or value.get("id") or "")
    return "" if value is None else str(value)


def parse_labelstudio(data: Any) -> list[LabelStudioLabel]:
    """Choice annotations from a Label Studio JSON export. Raises ValueError on a malformed file."""
    if isinstance(data, dict) and "data" in data:
        data = [data]
    if not isinstance(data, list):
        raise ValueError("a Label Studio export is a JSON list of tasks")
    out = []
    for position, task in enumerate(data):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise ValueError(f"task {position} has no 'data' object")
        meta = task.get("meta") if isinstance(task.get("meta"), dict) else {}
        uid = str(task["data"].get("uid") or meta.get("uid") or "")
        image = str(task["data"].get("image") or "")
        for annotation in task.get("annotations") or []:
            if not isinstance(annotation, dict) or annotation.get("was_cancelled"):
                continue
            for result in annotation.get("result") or []:
                choices = (result.get("value") or {}).get("choices") if isinstance(result, dict) else None
                if result.get("type") != "choices" or not choices:
                    continue
                out.append(LabelStudioLabel(task_id=task.get("id"), uid=uid, image=image, label=str(choices[0]),
                                            completed_by=_who(annotation.get("completed_by"))))
    return out
