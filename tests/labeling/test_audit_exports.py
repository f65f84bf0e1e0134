"""Exports a reviewer can audit: every annotation as a row, Label Studio with
every annotator's annotation, and split parameters shown as a table."""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from labeling.exports.annotations import ANNOTATION_COLUMNS
from labeling.models import Annotation
from labeling.services.quality import adjudication_record, snapshot_create, split_create
from tests.browser import login
from tests.labeling.quality_helpers import labelled_campaign

LABELS = [["natural", "natural"], ["natural", "rendition"], ["rendition", None]]


def _campaign(owner: Any) -> tuple[Any, list[Any], list[Any]]:
    campaign, items, raters = labelled_campaign(labels=LABELS, owner=owner, name="audit")
    Annotation.objects.filter(item=items[0], annotator=raters[0]).update(seconds=1.5)
    adjudication_record(item=items[1], label="rendition", reason="the brush strokes", decided_by=owner)
    return campaign, items, raters


@pytest.mark.django_db
def test_it_exports_every_annotation_as_a_row_with_who_when_and_adjudication(api: Any, researcher: Any,
                                                                              admin_user: Any) -> None:
    campaign, items, raters = _campaign(admin_user)
    response = api(researcher).get(f"/api/v1/campaigns/{campaign.id}/export/?format=csv&rows=annotations")
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('_annotations.csv"')
    frame = pd.read_csv(io.BytesIO(response.content), keep_default_na=False)
    assert list(frame.columns) == ANNOTATION_COLUMNS
    assert len(frame) == 5  # one row per annotation, not per item
    first = frame[(frame["item"] == items[0].id) & (frame["annotator"] == "rater0")].iloc[0]
    assert (first["label"], first["seconds"], bool(first["adjudicated"])) == ("natural", 1.5, False)
    assert first["created_at"].endswith("Z") and first["uid"] == items[0].image.uid
    disputed = frame[frame["item"] == items[1].id]
    assert sorted(disputed["label"]) == ["natural", "rendition"]
    assert disputed["adjudicated"].astype(bool).all()
    assert set(disputed["adjudicated_label"]) == {"rendition"} and set(disputed["final_label"]) == {"rendition"}

    parquet = api(researcher).get(f"/api/v1/campaigns/{campaign.id}/export/?format=parquet&rows=annotations")
    assert pd.read_parquet(io.BytesIO(parquet.content))["adjudicated"].dtype == bool
    jsonl = api(researcher).get(f"/api/v1/campaigns/{campaign.id}/export/?format=jsonl&rows=annotations")
    assert len(jsonl.content.decode().strip().splitlines()) == 5

    # Today's default is unchanged: one row per item with its final label.
    final = pd.read_csv(io.BytesIO(api(researcher).get(f"/api/v1/campaigns/{campaign.id}/export/").content))
    assert len(final) == 3 and "annotator" not in final.columns


@pytest.mark.django_db
def test_it_refuses_annotation_rows_in_formats_without_rows(api: Any, researcher: Any, admin_user: Any,
                                                             annotator: Any) -> None:
    campaign, _, _ = _campaign(admin_user)
    url = f"/api/v1/campaigns/{campaign.id}/export/"
    bad = api(researcher).get(url + "?format=labelstudio&rows=annotations")
    assert bad.status_code == 400 and "csv, jsonl, parquet" in bad.json()["detail"]
    assert api(researcher).get(url + "?rows=everything").status_code == 400
    assert api(annotator).get(url + "?rows=annotations").status_code == 403


@pytest.mark.django_db
def test_it_carries_every_annotators_label_in_label_studio_when_asked(api: Any, researcher: Any,
                                                                      admin_user: Any) -> None:
    campaign, items, _ = _campaign(admin_user)
    url = f"/api/v1/campaigns/{campaign.id}/export/?format=labelstudio"
    plain = {t["meta"]["image_id"]: t for t in api(researcher).get(url).json()}
    assert [len(plain[i.image_id]["annotations"]) for i in items] == [1, 1, 1]  # the final label only
    tasks = {t["meta"]["image_id"]: t for t in api(researcher).get(url + "&annotators=1").json()}
    disputed = tasks[items[1].image_id]["annotations"]
    assert disputed[0]["ground_truth"] is True and disputed[0]["result"][0]["value"]["choices"] == ["rendition"]
    by_whom = {a["completed_by"]["username"]: a["result"][0]["value"]["choices"][0] for a in disputed[1:]}
    assert by_whom == {"rater0": "natural", "rater1": "rendition"}
    assert all("lead_time" in a and a["created_at"] for a in disputed[1:])


@pytest.mark.django_db
def test_it_writes_annotation_rows_from_the_command(tmp_path: Path, admin_user: Any) -> None:
    campaign, _, _ = _campaign(admin_user)
    out = tmp_path / "rows.parquet"
    err = io.StringIO()
    call_command("export_labels", str(campaign.id), "--annotations", "--format", "parquet", "-o", str(out), stderr=err)
    frame = pd.read_parquet(out)
    assert len(frame) == 5 and list(frame.columns) == ANNOTATION_COLUMNS
    assert "exported 5 annotations by 2 annotator(s) (2 on adjudicated items)" in err.getvalue()
    with pytest.raises(CommandError, match="csv, jsonl, parquet"):
        call_command("export_labels", str(campaign.id), "--annotations", "--format", "labelstudio")
    ls = tmp_path / "ls.json"
    call_command("export_labels", str(campaign.id), "--format", "labelstudio", "--all-annotators", "-o", str(ls),
                 stderr=io.StringIO())
    assert any(a.get("completed_by") for t in json.loads(ls.read_text()) for a in t["annotations"])


@pytest.mark.e2e
def test_it_shows_split_parameters_as_a_table_and_links_the_audit_export(
        transactional_db: None, live_server: Any, page: Any, researcher: Any, admin_user: Any) -> None:
    campaign, _, _ = _campaign(admin_user)
    snapshot = snapshot_create(campaign=campaign, name="snap", created_by=admin_user)
    split_create(snapshot=snapshot, name="s", preset="ratio", ratios=(0.5, 0.25, 0.25), created_by=admin_user)
    login(page, live_server.url, "res", "res-pw")
    page.goto(f"{live_server.url}/snapshots/{snapshot.id}/splits/")
    params = page.locator("table.split-params")
    assert params.locator("th", has_text="ratios").count() == 1
    assert "0.5 / 0.25 / 0.25" in params.inner_text()
    assert "{" not in page.locator("main").inner_text()  # no Python dict on the page
    page.goto(f"{live_server.url}/campaigns/{campaign.id}/snapshots/")
    link = page.locator("#live-exports a", has_text="csv").first
    response = page.request.get(live_server.url + link.get_attribute("href"))
    assert response.status == 200 and response.text().splitlines()[0].startswith("item,image_id,uid")
