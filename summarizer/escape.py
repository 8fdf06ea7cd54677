"""Text from articles and models made safe for where it is shown: a terminal, a spreadsheet,
a Markdown renderer. One function per destination, so every writer escapes alike.
"""

from __future__ import annotations

import re
import unicodedata

# Bidirectional overrides and isolates reorder what a terminal shows ("Trojan Source").
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e"}


def terminal(text: str) -> str:
    """`text` with control characters (ESC, OSC, newlines, C1 codes, bidi overrides) shown as
    escapes: an id or a file name can neither move the cursor, retitle the window, hide a
    link nor start a new line that looks like the tool's own output."""
    if text.isprintable():
        return text
    return "".join(
        _NAMED.get(ch, f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        if unicodedata.category(ch) == "Cc" or ch in _BIDI
        else ch
        for ch in text
    )


# OWASP "CSV injection": a cell starting with one of these runs as a formula in spreadsheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A string cell a spreadsheet would run as a formula, prefixed with a single quote (the
    OWASP rule); other values unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|!&~])")
_MD_ORDERED = re.compile(r"^(\d{1,9})([.)])(?=\s|$)")  # "1. " starts a numbered list
_MD_BULLET = re.compile(r"^([-+=])(?=\s|[-=\s]*$)")  # "- " a bullet, "---" a rule or heading


def markdown(text: str) -> str:
    """`text` as one line of literal Markdown: no formatting, link, code span or HTML, and no
    list, heading or quote started by its first characters."""
    text = _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))
    text = _MD_ORDERED.sub(r"\1\\\2", text)
    return _MD_BULLET.sub(r"\\\1", text)
