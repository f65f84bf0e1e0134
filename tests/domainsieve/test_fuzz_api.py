"""Every endpoint of the OpenAPI schema, driven with generated input as each role, answers without a
server error and with a body its schema allows.

schemathesis generates both valid and invalid requests (wrong types, out-of-range and huge
integers, missing or extra fields, other content types) from ``/api/v1/schema/``; Hypothesis runs
them derandomized, so a failure reproduces. Requests go through Django's WSGI handler in this
process, inside the test's transaction; path ids point at real rows half of the time so that the
generated bodies reach the code behind the 404s. A hand-written set of hostile bodies (deep JSON,
64-bit overflow, a list for an object, oversized multipart parts) complements the generator.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from labeling.models import Campaign
from labeling.services.campaigns import campaign_create
from tests.factories import make_dataset, make_images

pytestmark = pytest.mark.django_db

# Examples per operation and role, valid and invalid mixed. ~55 operations x 3 roles: keep the
# whole file near a minute or two on a small machine.
EXAMPLES = 8
SLOW_OPERATIONS = {"GET /api/v1/health/": 1}  # pings the broker and workers with a timeout
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
ROLES = ("annotator", "researcher", "admin_user")


def _load_schema() -> Any:
    spec = SchemaGenerator().get_schema(request=None, public=True)
    schema = schemathesis.openapi.from_dict(json.loads(json.dumps(spec, default=str)))
    schema.app = get_wsgi_application()
    return schema


SCHEMA = _load_schema()
OPERATIONS = {f"{op.method.upper()} {op.path}": op for op in (r.ok() for r in SCHEMA.get_all_operations())}


@pytest.fixture
def in_process_requests() -> Iterator[None]:
    """Django's WSGI handler closes "old" connections around each request, which would end the test's
    transaction; Django's own test client switches that off the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def world(media_root: object, researcher: Any) -> dict[str, int]:
    """Rows for the path ids to hit: a dataset with images and a campaign over it."""
    dataset = make_dataset(name="fuzz pool")
    images = make_images(dataset=dataset, n=6)
    campaign: Campaign = campaign_create(name="fuzz", datasets=[dataset], k=1, user=researcher)
    return {"dataset_id": dataset.id, "campaign_id": campaign.id, "image_id": images[0].id}


OVERFLOWS = [None, 2**31, 2**63, 2**70, -(2**63) - 1]


def _integer_slots(value: Any) -> Iterator[tuple[Any, Any]]:
    """(container, key) of every integer inside a JSON-like value (booleans excluded)."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, child in items:
        if isinstance(child, int) and not isinstance(child, bool):
            yield value, key
        else:
            yield from _integer_slots(child)


def fuzz(*, label: str, cases: Any, headers: dict[str, str], world: dict[str, int]) -> None:
    """Run the generated cases of one operation with one caller's headers."""

    @given(case=cases, real_ids=st.booleans(), overflow=st.sampled_from(OVERFLOWS), pick=st.integers(0, 1000))
    @settings(max_examples=SLOW_OPERATIONS.get(label, EXAMPLES), deadline=None, database=None,
              derandomize=True, phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case: Any, real_ids: bool, overflow: int | None, pick: int) -> None:
        if real_ids and case.path_parameters:
            for name in case.path_parameters:
                if name in world:
                    case.path_parameters[name] = world[name]
        if overflow is not None:
            # One integer of an otherwise generated (often valid) body or query becomes huge, so a
            # field without bounds reaches the database instead of hiding behind other errors.
            slots = list(_integer_slots(case.body)) + list(_integer_slots(case.query))
            if slots:
                container, key = slots[pick % len(slots)]
                container[key] = overflow
        response = case.call(headers=headers)
        checks = CHECKS
        if label == "GET /api/v1/health/" and response.status_code == 503:
            checks = [c for c in CHECKS if c is not not_a_server_error]  # no worker here: a documented 503
        case.validate_response(response, checks=checks, headers=headers)

    run()


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_it_answers_generated_input_without_server_errors(label: str, world: dict[str, int],
                                                           in_process_requests: None,
                                                           request: pytest.FixtureRequest) -> None:
    operation = OPERATIONS[label]
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))
    for role in ROLES:  # one test per operation, the roles in turn: the fixtures are built once
        user = request.getfixturevalue(role)
        headers = {"Authorization": f"Token {Token.objects.get_or_create(user=user)[0].key}"}
        try:
            fuzz(label=label, cases=cases, headers=headers, world=world)
        except BaseException as error:
            error.add_note(f"as the {role.removesuffix('_user')} role")
            raise


# Hand-written hostile requests the generator rarely reaches.
DEEP = "[" * 5000 + "]" * 5000
HUGE = 2**70


def _hostile_bodies(world: dict[str, int]) -> Iterator[tuple[str, str, bytes, str]]:
    c = world["campaign_id"]
    for method, path in (("post", f"/api/v1/campaigns/{c}/annotations/"), ("post", "/api/v1/campaigns/"),
                         ("patch", f"/api/v1/campaigns/{c}/"), ("post", "/api/v1/datasets/"),
                         ("post", "/api/v1/auth/token/"), ("post", "/api/v1/training-runs/"),
                         ("post", "/api/v1/classifier-runs/"), ("post", "/api/v1/apply-jobs/")):
        yield method, path, DEEP.encode(), "application/json"
        yield method, path, b'{"a": ' * 3000 + b"1" + b"}" * 3000, "application/json"
        yield method, path, b"[1, 2, 3]", "application/json"
        yield method, path, b'"just a string"', "application/json"
        yield method, path, b"{not json", "application/json"
        yield method, path, b"\xff\xfe\x00garbage", "application/json"
        yield method, path, b"<xml/>", "application/xml"
        yield method, path, b"k=v", "text/plain"
        yield method, path, json.dumps({"id": HUGE, "k": HUGE, "dataset": HUGE, "datasets": [HUGE],
                                        "campaign": HUGE, "seed": HUGE, "sample": HUGE, "items": [HUGE],
                                        "natural_run": HUGE, "split": HUGE, "n": HUGE}).encode(), "application/json"
    yield "post", f"/api/v1/campaigns/{c}/annotations/", json.dumps(
        [{"item": HUGE, "label": "natural", "seconds": HUGE}]).encode(), "application/json"
    yield "post", f"/api/v1/campaigns/{c}/annotations/", json.dumps(
        [{"item": -HUGE, "label": "natural", "seconds": 1e308 * 10}]).encode(), "application/json"


@pytest.mark.parametrize("role", ROLES, ids=["annotator", "researcher", "admin"])
def test_it_refuses_hostile_bodies_without_server_errors(role: str, world: dict[str, int],
                                                         request: pytest.FixtureRequest) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(request.getfixturevalue(role))
    failures = []
    for method, path, body, content_type in _hostile_bodies(world):
        response = getattr(client, method)(path, data=body, content_type=content_type)
        if response.status_code >= 500:
            failures.append((method, path, content_type, body[:40], response.status_code))
    c = world["campaign_id"]
    for path in (f"/api/v1/campaigns/{c}/next/?n={HUGE}", f"/api/v1/campaigns/{c}/agreement/?n_boot={HUGE}",
                 f"/api/v1/campaigns/{c}/disagreements/?limit={HUGE}&offset={HUGE}",
                 f"/api/v1/campaigns/{HUGE}/", f"/api/v1/images/{HUGE}/", f"/api/v1/datasets/{HUGE}/images/?page={HUGE}",
                 f"/api/v1/campaigns/{c}/export/?format=csv&snapshot={HUGE}&split={HUGE}"):
        response = (client.post if "/next/" in path else client.get)(path)
        if response.status_code >= 500:
            failures.append(("get", path, "", b"", response.status_code))
    assert not failures, "\n".join(map(str, failures))


def test_it_refuses_oversized_multipart_parts(client: Client, researcher: Any, world: dict[str, int],
                                              settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    client.force_login(researcher)
    big = "x" * 10_000
    response = client.post("/api/v1/datasets/", data={"name": big, "description": big})
    assert response.status_code in (400, 413)
    response = client.post(f"/api/v1/campaigns/{world['campaign_id']}/import/labelstudio/",
                           data={"file": big})
    assert response.status_code in (400, 413, 403)


def test_it_refuses_oversized_json_bodies(client: Client, annotator: Any, world: dict[str, int],
                                          settings: Any) -> None:
    settings.MAX_JSON_BODY_BYTES = 10_000
    client.force_login(annotator)
    items = [{"item": 1, "label": "natural", "seconds": 1.0}] * 1000
    response = client.post(f"/api/v1/campaigns/{world['campaign_id']}/annotations/", data=items,
                           content_type="application/json")
    assert response.status_code == 413
    assert "larger than 10000 bytes" in response.json()["detail"]


ODD_NUMBERS = ("²", "١٢", "9" * 5000, str(2**70), "-1", "1e3", " ")


def test_it_refuses_odd_ids_and_nul_in_urls_without_server_errors(client: Client, admin_user: Any,
                                                                   world: dict[str, int]) -> None:
    """Unicode digits pass str.isdigit but not int(); 5000 digits pass neither int() nor bigint;
    NUL cannot reach PostgreSQL text. Pages and endpoints that read ids from the query string."""
    client.force_login(admin_user)
    c = world["campaign_id"]
    failures = []
    urls = [f"/api/v1/campaigns/{c}/export/?format=csv&split={{v}}", f"/api/v1/campaigns/{c}/export/?snapshot={{v}}",
            "/api/v1/eval-results/?training_run={v}", "/classifier/compare/?runs={v}", "/training/results/?runs={v}",
            f"/campaigns/{c}/adjudicate/?item={{v}}", "/api/v1/campaigns/?x={v}"]
    for template in urls:
        for value in (*ODD_NUMBERS, "\x00", "a\x00b"):
            response = client.get(template.format(v=value))
            if response.status_code >= 500:
                failures.append((template, value[:12], response.status_code))
    for value in ODD_NUMBERS:
        response = client.post(f"/api/v1/campaigns/{c}/gold/", {"items": {value: "natural"}}, content_type="application/json")
        if response.status_code >= 500:
            failures.append(("gold", value[:12], response.status_code))
        response = client.post(f"/campaigns/{c}/predictions/", {"source": value})
        if response.status_code >= 500:
            failures.append(("predictions", value[:12], response.status_code))
    assert not failures, "\n".join(map(str, failures))
    assert client.get(f"/api/v1/campaigns/{c}/export/?snapshot=a%00b").status_code == 400


@pytest.mark.parametrize("value", [str(2**31), str(2**63), str(2**70), "9" * 5000, "²"])
def test_it_refuses_huge_numbers_in_page_forms(client: Client, researcher: Any, world: dict[str, int],
                                               value: str) -> None:
    """The HTML forms that create campaigns, imports and training runs answer with the form again."""
    client.force_login(researcher)
    forms = {
        "/campaigns/new/": {"name": "huge", "datasets": [world["dataset_id"]], "seed": value, "sample": value,
                            "k": 1, "agreement_fraction": 0.1, "agreement_k": 3, "ordering": "random",
                            "lease_minutes": 10},
        "/datasets/": {"dataset": "huge", "kind": "pool", "source": "/nowhere", "format": "auto", "sample": value,
                       "seed": value},
        "/training/": {"preset": "mix_8_8", "unit": value, "total": value, "model": "ViT-B-32", "epochs": value,
                       "global_batch": value, "gpus": value, "nodes": 1, "precision": "amp", "workers": value,
                       "device": "cuda", "backend": "local", "backend_options": "{}", "action": "preview"},
    }
    for url, data in forms.items():
        response = client.post(url, data)
        # The form again with the reason (the training form answers a refused form with 400), nothing created.
        assert response.status_code in (200, 400), (url, response.status_code)
        assert "errorlist" in response.content.decode() or "error" in response.content.decode(), url
