"""mkdocs hook: the docstrings' Sphinx roles (:class:`X`, :func:`Y`) shown as code, not as text.

mkdocstrings renders ``:class:`DataError``` as ``:class:<code>DataError</code>``; the role prefix
is dropped here, so the API pages read as the docstrings do in an editor.
"""
from __future__ import annotations

import re

_ROLE = re.compile(r":(?:class|func|meth|mod|attr|exc|data|obj):(<code>[^<]*</code>)")


def on_page_content(html: str, **_: object) -> str:
    return _ROLE.sub(r"\1", html)
