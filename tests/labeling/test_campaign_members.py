"""Campaign members: an annotator sees, leases and labels only campaigns they belong to.

A campaign names users and/or groups; with neither it is open to every annotator. Every path an
annotator takes (list pages, the API list, detail, next, annotations, progress, the grid and single
pages) answers a non-member 404, through both statement sets of the labeling hot path.
"""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from labeling.models import Annotation, Campaign, CampaignItem, Lease
from labeling.services.campaigns import campaign_create, campaign_mark_gold, campaign_set_members
from tests.conftest import ANNOTATOR, make_user
from tests.factories import make_dataset, make_images

pytestmark = pytest.mark.django_db


def client_for(user: object) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def campaign(media_root: object, researcher: object, annotator: object) -> Campaign:
    """A members-only campaign: ``annotator`` (ann) belongs, ``annotator2`` (ann2) does not."""
    dataset = make_dataset(name="pool")
    make_images(dataset=dataset, n=8)
    return campaign_create(name="Members only", datasets=[dataset], user=researcher, members=[annotator])


def _paths(campaign: Campaign) -> dict[str, tuple[str, str]]:
    return {
        "api detail": ("get", f"/api/v1/campaigns/{campaign.id}/"),
        "api next": ("post", f"/api/v1/campaigns/{campaign.id}/next/?n=3"),
        "api progress": ("get", f"/api/v1/campaigns/{campaign.id}/progress/"),
        "grid page": ("get", f"/campaigns/{campaign.id}/grid/"),
        "single page": ("get", f"/campaigns/{campaign.id}/single/"),
    }


def test_it_lets_members_reach_every_labeling_path(annotator: object, campaign: Campaign) -> None:
    client = client_for(annotator)
    for name, (method, url) in _paths(campaign).items():
        assert getattr(client, method)(url).status_code == 200, name
    assert campaign.id in [c["id"] for c in client.get("/api/v1/campaigns/").json()]
    assert "Members only" in client.get("/campaigns/").content.decode()


def test_it_answers_non_members_404_everywhere(statement_set: str, annotator2: object, campaign: Campaign) -> None:
    client = client_for(annotator2)
    for name, (method, url) in _paths(campaign).items():
        assert getattr(client, method)(url).status_code == 404, name
    item = CampaignItem.objects.filter(campaign=campaign).first()
    labels = client.post(f"/api/v1/campaigns/{campaign.id}/annotations/", [{"item": item.id, "label": "natural"}],
                         content_type="application/json")
    assert labels.status_code == 404
    assert campaign.id not in [c["id"] for c in client.get("/api/v1/campaigns/").json()]
    assert "Members only" not in client.get("/campaigns/").content.decode()
    assert not Lease.objects.filter(annotator=annotator2).exists()
    assert not Annotation.objects.filter(annotator=annotator2).exists()


def test_it_admits_members_of_a_member_group(statement_set: str, annotator2: object, campaign: Campaign) -> None:
    team = Group.objects.create(name="team-b")
    annotator2.groups.add(team)
    client = client_for(annotator2)
    assert client.post(f"/api/v1/campaigns/{campaign.id}/next/?n=2").status_code == 404
    campaign_set_members(campaign=campaign, member_groups=[team])
    page = client.post(f"/api/v1/campaigns/{campaign.id}/next/?n=2").json()["items"]
    assert len(page) == 2
    saved = client.post(f"/api/v1/campaigns/{campaign.id}/annotations/",
                        [{"item": t["item"], "label": "natural"} for t in page], content_type="application/json")
    assert saved.json()["created"] == 2


def test_it_opens_a_campaign_without_members_to_every_annotator(annotator2: object, campaign: Campaign) -> None:
    campaign_set_members(campaign=campaign, members=[], member_groups=[])
    assert client_for(annotator2).post(f"/api/v1/campaigns/{campaign.id}/next/?n=2").status_code == 200


def test_it_refuses_a_former_member_at_once(statement_set: str, annotator: object, campaign: Campaign) -> None:
    client = client_for(annotator)
    page = client.post(f"/api/v1/campaigns/{campaign.id}/next/?n=2").json()["items"]
    campaign_set_members(campaign=campaign, members=[make_user("someone-else", ANNOTATOR)])
    saved = client.post(f"/api/v1/campaigns/{campaign.id}/annotations/",
                        [{"item": t["item"], "label": "natural"} for t in page], content_type="application/json")
    assert saved.status_code == 404
    assert not Annotation.objects.filter(annotator=annotator).exists()
    assert client.get(f"/api/v1/images/{page[0]['image']}/thumb/").status_code == 404


def test_it_lets_researchers_see_and_set_members_through_the_api(api: object, researcher: object, annotator: object,
                                                                 annotator2: object, campaign: Campaign) -> None:
    body = api(researcher).get(f"/api/v1/campaigns/{campaign.id}/").json()
    assert (body["members"], body["member_groups"]) == (["ann"], [])
    changed = api(researcher).patch(f"/api/v1/campaigns/{campaign.id}/", {"members": ["ann2"],
                                                                         "member_groups": [ANNOTATOR]},
                                    format="json")
    assert changed.status_code == 200, changed.content
    assert (changed.json()["members"], changed.json()["member_groups"]) == (["ann2"], [ANNOTATOR])
    unknown = api(researcher).patch(f"/api/v1/campaigns/{campaign.id}/", {"members": ["ghost"]}, format="json")
    assert unknown.status_code == 400 and "ghost" in unknown.content.decode()
    # Annotators never see who else belongs.
    assert "members" not in api(annotator2).get(f"/api/v1/campaigns/{campaign.id}/").json()


def test_it_refuses_members_changes_to_annotators(api: object, annotator: object, campaign: Campaign) -> None:
    response = api(annotator).patch(f"/api/v1/campaigns/{campaign.id}/", {"members": ["ann"]}, format="json")
    assert response.status_code == 403


def test_it_sets_members_at_creation(api: object, researcher: object, annotator: object, annotator2: object,
                                     media_root: object) -> None:
    dataset = make_dataset(name="second")
    make_images(dataset=dataset, n=3)
    created = api(researcher).post("/api/v1/campaigns/", {"name": "Team A", "datasets": [dataset.id],
                                                          "members": ["ann2"]}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["members"] == ["ann2"]
    campaign_id = created.json()["id"]
    assert api(annotator).post(f"/api/v1/campaigns/{campaign_id}/next/").status_code == 404
    assert api(annotator2).post(f"/api/v1/campaigns/{campaign_id}/next/").status_code == 200


def test_it_sets_members_from_the_new_campaign_form(researcher: object, annotator2: object, media_root: object) -> None:
    dataset = make_dataset(name="form-pool")
    make_images(dataset=dataset, n=3)
    response = client_for(researcher).post("/campaigns/new/", {
        "name": "From the form", "datasets": [dataset.id], "seed": 0, "k": 1, "agreement_fraction": 0,
        "agreement_k": 3, "ordering": "random", "lease_minutes": 10, "members": [annotator2.id]})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(Campaign.objects.get(name="From the form").members.all()) == [annotator2]


def test_it_edits_members_in_django_admin(annotator2: object, campaign: Campaign) -> None:
    from django.contrib.auth.models import User

    root = User.objects.create_superuser("root", password="root-pw")
    page = client_for(root).get(f"/admin/labeling/campaign/{campaign.id}/change/").content.decode()
    assert 'name="members"' in page and 'name="member_groups"' in page


def test_it_never_takes_example_tiles_from_gold_items(annotator: object, campaign: Campaign) -> None:
    items = list(CampaignItem.objects.filter(campaign=campaign).select_related("image").order_by("id"))
    natural = [item for item in items if item.image.intended_domain == "natural"]
    campaign_mark_gold(campaign=campaign, gold={natural[0].image_id: "natural"})
    page = client_for(annotator).get(f"/campaigns/{campaign.id}/grid/").content.decode()
    assert f"/api/v1/images/{natural[0].image_id}/thumb/" not in page
    assert f"/api/v1/images/{natural[1].image_id}/thumb/" in page


def test_it_shows_the_guidelines_page_examples_only_from_readable_images(annotator2: object,
                                                                         campaign: Campaign) -> None:
    page = client_for(annotator2).get("/guidelines/").content.decode()
    assert "/api/v1/images/" not in page


def test_it_checks_membership_without_an_extra_query(statement_set: str, annotator: object, annotator2: object,
                                                     campaign: Campaign) -> None:
    """The hot path pays nothing for membership: a page of a members-only campaign costs as many
    queries as one of an open campaign (the check rides in the query that fetches the campaign)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.authtoken.models import Token

    open_campaign = campaign_create(name="Open", datasets=list(campaign.datasets.all()), user=campaign.created_by)
    token = Token.objects.create(user=annotator).key

    def cost(target: Campaign) -> tuple[int, int]:
        client = Client(HTTP_AUTHORIZATION=f"Token {token}")
        with CaptureQueriesContext(connection) as leasing:
            page = client.post(f"/api/v1/campaigns/{target.id}/next/?n=2").json()["items"]
        with CaptureQueriesContext(connection) as labeling:
            saved = client.post(f"/api/v1/campaigns/{target.id}/annotations/",
                                [{"item": t["item"], "label": "natural"} for t in page],
                                content_type="application/json")
        assert saved.status_code == 200
        return len(leasing), len(labeling)

    assert cost(campaign) == cost(open_campaign)
