"""Find the model's evidence quotes in the article and record where they stand.

Small models rarely copy a passage byte for byte: they retype curly quotes as straight ones,
fold line breaks and non-breaking spaces into plain spaces, change a letter's case or slip a
character. `locate` forgives those in stages, cheapest and strictest first, and always answers
with offsets into the original text so a span can be shown and checked against the article.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from rapidfuzz import fuzz

from summarizer.schema import Evidence

# Below this many characters a fuzzy hit is meaningless: one slip is already over 5% of the
# quote, and a short phrase finds a near-twin somewhere in any long article.
MIN_FUZZY_CHARS = 20
# The shortest quote that can state an item: a clause in any script (12 characters of Chinese
# say "Wang Yi met Macron at the Elysee"), never a number, a date or a name alone.
MIN_QUOTE_CHARS = 12
MIN_QUOTE_LETTERS = 8

# Straight, curly, low-9 and angle quotes, primes and accents typed as apostrophes.
_QUOTE_MARKS = (
    "\"'`\u201c\u201d\u201e\u201f\u2018\u2019\u201a\u201b\u00ab\u00bb\u2039\u203a\u2033\u2032\u00b4"
)
# Hyphen, non-breaking hyphen, figure/en/em dashes, horizontal bar, minus.
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
# Every character str.isspace() accepts; the highest is U+3000.
_SPACES = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
# One-for-one replacements keep offsets intact; only runs of spaces need the index map.
_FOLD = str.maketrans(
    _QUOTE_MARKS + _DASHES + _SPACES,
    '"' * len(_QUOTE_MARKS) + "-" * len(_DASHES) + " " * len(_SPACES),
)
_SPACE_RUN = re.compile(" {2,}")


class _Folded(NamedTuple):
    """A normalised string and, for each of its characters, the offset it came from."""

    text: str
    caseless: str
    origin: list[int]


def _caseless(s: str) -> str:
    # Offsets must survive lower-casing; the rare text where they would not ("İ") keeps case.
    lowered = s.lower()
    return lowered if len(lowered) == len(s) else s


def _fold(s: str) -> _Folded:
    translated = s.translate(_FOLD)
    parts: list[str] = []
    origin: list[int] = []
    pos = 0
    for run in _SPACE_RUN.finditer(translated):
        keep = run.start() + 1
        parts.append(translated[pos:keep])
        origin.extend(range(pos, keep))
        pos = run.end()
    parts.append(translated[pos:])
    origin.extend(range(pos, len(translated)))
    folded = "".join(parts)
    return _Folded(folded, _caseless(folded), origin)


@lru_cache(maxsize=16)
def _fold_article(text: str) -> _Folded:
    # Grounding an article's items calls locate once per quote: fold the article once.
    return _fold(text)


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _widen_to_words(text: str, start: int, end: int) -> tuple[int, int]:
    # A fuzzy window is as long as the quote, so a dropped or extra letter in the quote
    # shifts its edge into the middle of a word; show whole words instead.
    while start > 0 and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while end < len(text) and text[end - 1].isalnum() and text[end].isalnum():
        end += 1
    return start, end


def _to_original(article: _Folded, span: tuple[int, int]) -> tuple[int, int]:
    return article.origin[span[0]], article.origin[span[1] - 1] + 1


def _search_folded(article: _Folded, quote: _Folded) -> tuple[int, int] | None:
    at = article.text.find(quote.text)
    if at < 0:
        at = article.caseless.find(quote.caseless)
    return None if at < 0 else (at, at + len(quote.text))


def _search_fuzzy(article: _Folded, quote: _Folded, min_score: float) -> tuple[int, int] | None:
    if len(quote.text) < MIN_FUZZY_CHARS or len(quote.text) > len(article.text):
        return None
    hit = fuzz.partial_ratio_alignment(quote.caseless, article.caseless, score_cutoff=min_score)
    if hit is None or hit.dest_start >= hit.dest_end:
        return None
    return hit.dest_start, hit.dest_end


def locate(text: str, quote: str, *, min_score: float = 90.0) -> tuple[int, int] | None:
    """Span [start, end) of `quote` in `text`, or None when the article does not contain it.

    Tries an exact match, then a match with whitespace, quote marks, dashes and then case
    folded, then a fuzzy match (rapidfuzz partial ratio >= `min_score`, only for quotes of
    at least MIN_FUZZY_CHARS characters). The span never starts or ends on whitespace.
    """
    quote = quote.strip()
    if not quote or not text:
        return None
    at = text.find(quote)
    if at >= 0:
        return at, at + len(quote)
    article, wanted = _fold_article(text), _fold(quote)
    span = _search_folded(article, wanted)
    if span is not None:
        return _to_original(article, span)
    span = _search_fuzzy(article, wanted, min_score)
    if span is None:
        return None
    return _trim(text, *_widen_to_words(text, *_to_original(article, span)))


def is_statement(quote: str) -> bool:
    """Whether a quote is long enough to state an item: a bare number ("8"), a date ("May 9,
    2025") or a name is found in many articles and proves nothing, so it never counts as
    evidence however exactly it matches."""
    letters = sum(c.isalpha() for c in quote)
    return len(quote.strip()) >= MIN_QUOTE_CHARS and letters >= MIN_QUOTE_LETTERS


def ground(text: str, evidence: list[Evidence]) -> list[Evidence]:
    """Copies of `evidence` with spans: a found quote takes the article's own wording.

    A quote that is not found, or too short to state anything (`is_statement`), keeps its
    text, loses any offsets it carried and stays grounded=False, so callers can report it
    instead of trusting it.
    """
    grounded: list[Evidence] = []
    for item in evidence:
        span = locate(text, item.quote) if is_statement(item.quote) else None
        if span is None:
            update = {"start": None, "end": None, "grounded": False}
        else:
            start, end = span
            update = {"quote": text[start:end], "start": start, "end": end, "grounded": True}
        grounded.append(item.model_copy(update=update))
    return grounded


# Text addressed to a model rather than to readers: prompt injections and chat-template tokens.
_TO_MODEL = re.compile(
    r"ignore (?:all |any )?(?:the )?(?:previous|prior|above|earlier) (?:instructions|prompts?)"
    r"|disregard (?:all |any )?(?:the )?(?:previous|prior|above|earlier)"
    r"|(?:new|updated|override) (?:system )?instructions?\s*:"
    r"|system prompt|you are (?:now )?(?:a|an|the) (?:helpful|ai|language model|assistant)"
    r"|as an ai|(?:respond|reply|answer|output) (?:only )?with (?:the following|this) json"
    r"|<\|[a-z_]+\|>|\[/?inst\]|<</?sys>>|<(?:start|end)_of_turn>"
    r"|^\s*(?:system|assistant)\s*:"
    # an answer in our own JSON shape, or an order to report an item
    r'|"(?:meetings|agreements|disputes|actors|ev|who|parties|sides)"\s*:'
    r"|^\W*(?:now |please |also )?(?:report|say|state|add|include|list|output|record) "
    r"(?:a |an |that |the )?(?:new )?(?:meetings?|agreements?|deals?|treaty|disputes?)\b",
    re.IGNORECASE | re.MULTILINE,
)


def addressed_to_model(text: str) -> bool:
    """Whether a passage speaks to the model instead of reporting: such text is no evidence."""
    return _TO_MODEL.search(text) is not None
