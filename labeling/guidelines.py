"""The default labeling guidelines (PAPER.md's texture-centric rules), as markdown and HTML.

Guidelines are typed by researchers and read by every annotator of a campaign, so their HTML is
untrusted. Two layers keep script out: the Markdown parser escapes raw HTML and has no
attribute-list syntax (``{: onclick=...}``), and its output then goes through nh3 (the Rust
``ammonia`` sanitizer) with an allowlist of tags, attributes and URL schemes. The page's
Content-Security-Policy (settings.CONTENT_SECURITY_POLICY) is the third layer.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import markdown
import nh3

DEFAULT_GUIDELINES = (Path(__file__).with_name("guidelines.md")).read_text()

# Python-Markdown's "extra" minus attr_list (sets arbitrary attributes, event handlers included)
# and md_in_html (raw HTML blocks).
MARKDOWN_EXTENSIONS = ("abbr", "def_list", "fenced_code", "footnotes", "tables", "sane_lists")

ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre",
    "s", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
})
# No id (DOM clobbering of the page's own elements), no class, no style, no on* handler.
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start"},
    "td": {"align"},
    "th": {"align"},
}
# Relative URLs pass; absolute ones only with these schemes (no javascript:, data:, vbscript:).
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})


def sanitize_html(html: str) -> str:
    """Allowlist-clean an HTML fragment: unknown tags are dropped (their text kept; script and
    style with their content), unknown attributes and URLs of other schemes removed."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(ALLOWED_URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


@lru_cache(maxsize=64)
def render_guidelines(text: str) -> str:
    """Markdown to sanitized HTML, safe to mark ``|safe`` in a template. Raw HTML in the source
    is shown as text; the parser's output is cleaned by :func:`sanitize_html`."""
    md = markdown.Markdown(extensions=list(MARKDOWN_EXTENSIONS),
                           extension_configs={"tables": {"use_align_attribute": True}})
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    return sanitize_html(md.convert(text))
