"""Every page sends a Content-Security-Policy that forbids inline script."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[2] / "frontend" / "templates"


def directives(response: object) -> dict[str, str]:
    header = response["Content-Security-Policy"]  # type: ignore[index]
    return {part.split()[0]: part.strip() for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("url", ["/login/", "/", "/campaigns/", "/guidelines/", "/admin/", "/api/v1/docs/",
                                 "/api/v1/campaigns/"])
def test_it_sends_a_policy_without_inline_script(client: Client, admin_user: object, url: str) -> None:
    client.force_login(admin_user)
    response = client.get(url)
    assert response.status_code == 200, url
    policy = directives(response)
    assert policy["script-src"] == "script-src 'self'"
    assert policy["object-src"] == "object-src 'none'"
    assert policy["base-uri"] == "base-uri 'self'"
    assert policy["frame-ancestors"] == "frame-ancestors 'none'"


def test_it_serves_the_docs_init_code_as_a_script_file(client: Client, annotator: object) -> None:
    client.force_login(annotator)
    page = client.get("/api/v1/docs/").content.decode()
    assert re.search(r'<script src="/api/v1/docs/\?[^"]*script', page)
    assert not re.search(r"<script>", page)
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


def test_it_keeps_inline_code_out_of_every_template() -> None:
    """Inline <script> code and on*= handlers would be blocked by the policy: none may exist."""
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        for match in re.finditer(r"<script\b([^>]*)>(.*?)</script>", text, re.S):
            if "src=" not in match.group(1) and match.group(2).strip():
                offenders.append(f"{path.name}: inline <script>")
        if re.search(r"\son[a-z]+\s*=", text):
            offenders.append(f"{path.name}: inline event handler")
        if "javascript:" in text:
            offenders.append(f"{path.name}: javascript: URL")
        if re.search(r"<style\b", text):  # style-src 'self': a <style> block would be dropped silently
            offenders.append(f"{path.name}: inline <style> block")
    assert offenders == []
