"""Guidelines Markdown renders to allowlisted HTML: no handlers, no script URLs, no attr lists."""
from __future__ import annotations

from html.parser import HTMLParser

import pytest

from labeling.guidelines import DEFAULT_GUIDELINES, render_guidelines, sanitize_html


@pytest.mark.parametrize("source", [
    '<img src=x onerror="alert(1)">',
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](  javascript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](data:image/svg+xml,<svg onload=alert(1)>)",
    "[x](vbscript:msgbox(1))",
    'para\n{: onclick="alert(1)" }',
    '![x](/a.png){: onerror="alert(1)" }',
    '<a href="javascript:alert(1)">x</a>',
    '<svg><animate onbegin="alert(1)"/></svg>',
    '<iframe src="https://example.org"></iframe>',
])
def test_it_renders_no_way_to_run_script(source: str) -> None:
    html = render_guidelines(source)
    elements = parse(html)
    assert {tag for tag, _ in elements} <= {"p", "a", "img"}, html
    for _tag, attrs in elements:
        for name, value in attrs:
            assert not name.startswith("on"), html
            if name in ("href", "src"):
                assert value is None or not value.strip().lower().startswith(("javascript:", "vbscript:", "data:")), html


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def parse(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Elements()
    parser.feed(html)
    return parser.found


def test_it_keeps_the_markdown_a_guideline_needs() -> None:
    html = render_guidelines(
        "# Title\n\n**bold** _em_ `code`\n\n- a\n- b\n\n| a | b |\n|:-|-:|\n| 1 | 2 |\n\n"
        "[rules](https://example.org/rules) [page](/guidelines/) [mail](mailto:x@example.org)\n\n![ex](/static/x.png)")
    for fragment in ("<h1>Title</h1>", "<strong>bold</strong>", "<em>em</em>", "<code>code</code>", "<li>a</li>",
                     '<th align="left">a</th>', 'href="https://example.org/rules"', 'href="/guidelines/"',
                     'href="mailto:x@example.org"', 'src="/static/x.png"'):
        assert fragment in html, fragment


def test_it_renders_the_default_guidelines() -> None:
    html = render_guidelines(DEFAULT_GUIDELINES)
    assert "<h1>" in html and "texture" in html


def test_it_drops_attributes_outside_the_allowlist() -> None:
    cleaned = sanitize_html('<p id="guidelines" class="x" style="position:fixed" title="t">hi</p>')
    assert cleaned == '<p title="t">hi</p>'  # title and lang are harmless and kept
