"""Release notes as HTML: Markdown rendered by markdown-it-py (CommonMark, raw HTML off), then
sanitised by nh3 (Ammonia) to a safe list of tags, with links only to http, https and mailto, so a
`<script>` or a `javascript:` link in the notes is inert."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
_SCHEMES = {"http", "https", "mailto"}


def notes_html(text: str) -> Markup:
    """`text` (Markdown) as sanitised HTML, safe to put in a page as is."""
    rendered = _MARKDOWN.render(text or "")
    clean = nh3.clean(rendered, url_schemes=_SCHEMES, link_rel="noopener noreferrer nofollow")
    # Safe to mark: nh3 has sanitised it.
    return Markup(clean)  # noqa: S704  # nosec B704
