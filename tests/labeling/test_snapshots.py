"""Label snapshots: frozen final labels with counts; immutable; admin-only to create."""
from __future__ import annotations

import pytest

from labeling.models import ImmutableError, LabelSnapshot, SnapshotLabel
from labeling.selectors.quality import snapshot_labels
from labeling.services.quality import QualityError, adjudication_record, snapshot_create
from tests.labeling.quality_helpers import give_label, labelled_campaign

N, R, A = "natural", "rendition", "ambiguous"


@pytest.fixture
def campaign_items(media_root, researcher):
    campaign, items, raters = labelled_campaign(labels=[[N, N, R], [R, R, R], [N, R, A], [A], [None]],
                                                owner=researcher)
    return campaign, items, raters


def test_it_freezes_final_labels_with_counts_per_class(campaign_items, admin_user) -> None:
    campaign, items, raters = campaign_items
    snapshot = snapshot_create(campaign=campaign, name="v1", created_by=admin_user)
    assert snapshot.counts == {N: 1, R: 1, A: 1}
    assert (snapshot.n_labelled, snapshot.n_unlabelled) == (3, 2)
    assert snapshot_labels(snapshot) == sorted([(items[0].image_id, N), (items[1].image_id, R),
                                                (items[3].image_id, A)])
    row = SnapshotLabel.objects.get(snapshot=snapshot, image_id=items[0].image_id)
    assert (row.source, row.label_count, row.label_index) == ("majority", 3, 0)
    assert row.agreement == pytest.approx(2 / 3)
    # Later changes to the campaign do not reach the frozen snapshot.
    adjudication_record(item=items[2], label=R, reason="drawn", decided_by=admin_user)
    give_label(item=items[4], annotator=raters[0], label=N)
    later = snapshot_create(campaign=campaign, name="v2", created_by=admin_user)
    assert later.counts == {N: 2, R: 2, A: 1}
    assert len(snapshot_labels(LabelSnapshot.objects.get(name="v1"))) == 3


def test_it_refuses_to_change_or_delete_a_snapshot(campaign_items, admin_user) -> None:
    campaign, _, _ = campaign_items
    snapshot = snapshot_create(campaign=campaign, name="frozen", created_by=admin_user)
    snapshot.name = "renamed"
    with pytest.raises(ImmutableError):
        snapshot.save()
    with pytest.raises(ImmutableError):
        snapshot.delete()
    label = snapshot.labels.first()
    label.label = R
    with pytest.raises(ImmutableError):
        label.save()
    with pytest.raises(QualityError, match="already exists"):
        snapshot_create(campaign=campaign, name="frozen", created_by=admin_user)


def test_it_lets_admins_create_and_researchers_read_snapshots(api, campaign_items, admin_user, researcher,
                                                              annotator) -> None:
    campaign, _, _ = campaign_items
    url = f"/api/v1/campaigns/{campaign.id}/snapshots/"
    assert api(researcher).post(url, {"name": "nope"}, format="json").status_code == 403
    assert api(annotator).get(url).status_code == 403
    created = api(admin_user).post(url, {"name": "s1"}, format="json")
    assert created.status_code == 201 and created.json()["counts"] == {N: 1, R: 1, A: 1}
    listed = api(researcher).get(url).json()["results"]
    assert [s["name"] for s in listed] == ["s1"]
    assert api(admin_user).post(url, {"name": "s1"}, format="json").status_code == 400


def test_it_shows_the_snapshot_page_and_freezes_from_its_form(client, campaign_items, admin_user, annotator) -> None:
    campaign, _, _ = campaign_items
    client.force_login(admin_user)
    response = client.post(f"/campaigns/{campaign.id}/snapshots/", {"name": "from-page"})
    assert response.status_code == 302
    page = client.get(f"/campaigns/{campaign.id}/snapshots/")
    assert b"from-page" in page.content
    client.force_login(annotator)
    assert client.get(f"/campaigns/{campaign.id}/snapshots/").status_code == 403
