"""Neutralising text that came from an input file before it is printed in a non-HTML output.

Account names, service and event names, file names and any other text read from evidence files are
chosen by whoever wrote those files. In plain text and Markdown such text could forge report lines
(a newline), reorder what a reader sees (a bidirectional override such as U+202E), hide itself
(zero-width and other format characters), drive a terminal (escape sequences) or, in Markdown, run
markup (``<script>``, ``<img onerror=...>``, ``[link](...)``, ``&#x202e;``). Two functions:

* :func:`plain` (text outputs): every character that is not printable (``str.isprintable``: the
  C0/C1 controls, newlines, tabs, DEL, bidi controls, zero-width and other format characters,
  line/paragraph separators, non-breaking and other unusual spaces, surrogates, private-use and
  unassigned code points) is written as a visible escape, ``\\n``, ``\\x1b`` or ``\\u202e``, as
  Python's ``repr`` does. The text stays readable and the investigator sees that something was there.
* :func:`markdown` (Markdown outputs): :func:`plain`, then a backslash before every character that
  is Markdown or HTML syntax inline (CommonMark backslash escapes render as the character itself),
  so ``<script>`` shows as text, ``[x](y)`` is no link and ``&#x202e;`` no character reference.
  Block syntax (``#``, ``-``, ``>`` at the start of a line) needs no escape: the text is always
  placed after the library's own words or cell separators, never at the start of a line.

JSON outputs keep the exact value (JSON escapes the control characters itself); HTML outputs escape
with :func:`html.escape`.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["markdown", "plain"]

_SHORT: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: characters with an inline meaning in CommonMark / GitHub Markdown (and HTML inside Markdown)
_MARKDOWN_SPECIAL: Final = re.compile(
    r"([\\`*\[\]<|~])"  # always syntax inline
    r"|(&(?=[#A-Za-z0-9]))"  # a character reference (&#x202e; &lt;), not a lone ampersand
    r"|((?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))"  # emphasis; first_seen keeps its underscore
)


def _escape(ch: str) -> str:
    if ch in _SHORT:
        return _SHORT[ch]
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def plain(text: object) -> str:
    """``text`` with every non-printable character written as a visible escape (see the module)."""
    s = str(text)
    if s.isprintable():
        return s
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in s)


def markdown(text: object) -> str:
    """``text`` safe inline in Markdown: :func:`plain` plus backslash escapes of Markdown/HTML syntax."""
    return _MARKDOWN_SPECIAL.sub(lambda m: "\\" + m.group(0), plain(text))
