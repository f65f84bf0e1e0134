"""The default labeling guidelines (PAPER.md's texture-centric rules), as markdown and HTML."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import markdown

DEFAULT_GUIDELINES = (Path(__file__).with_name("guidelines.md")).read_text()


@lru_cache(maxsize=64)
def render_guidelines(text: str) -> str:
    """Markdown to HTML. Raw HTML in the source is escaped, so guidelines cannot inject script."""
    md = markdown.Markdown(extensions=["extra", "sane_lists"])
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    return md.convert(text)
