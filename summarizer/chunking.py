"""Split an article into numbered sentences with exact character spans.

The model cites sentence numbers instead of copying quotes: far fewer output tokens, and
every cited sentence maps back to a span of the original text, so grounding is exact.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import pysbd

_PARAGRAPH = re.compile(r"[^\n]+")
# Sentence ends that pysbd's English rules do not know: the CJK full stop, exclamation and
# question marks, the Arabic question mark, the Devanagari danda. A sentence ends after one
# (and any closing quote or bracket).
_STOPS = "\u3002\uff01\uff1f\u061f\u0964"
_CLOSERS = "\u300d\u300f\u201d\u2019\uff09)"
_OTHER_STOPS = re.compile(f"[^{_STOPS}]+(?:[{_STOPS}]+[{_CLOSERS}]*)?")


@dataclass(frozen=True, slots=True)
class Sentence:
    n: int  # 1-based number shown to the model
    start: int  # character offsets into the article, end exclusive
    end: int
    text: str


_LOCAL = threading.local()


def _segmenter() -> pysbd.Segmenter:
    """One per thread: a pysbd segmenter keeps per-call state and is not thread-safe."""
    segmenter = getattr(_LOCAL, "segmenter", None)
    if segmenter is None:
        segmenter = _LOCAL.segmenter = pysbd.Segmenter(language="en", clean=False)
    return segmenter


def _pieces(paragraph: str) -> list[str]:
    """pysbd's sentences, each split again at the sentence ends of other scripts; a piece
    of bare punctuation (the closing 」 pysbd leaves alone) joins the sentence before it."""
    pieces = _segmenter().segment(paragraph)
    if any(c in _STOPS for c in paragraph):
        pieces = [m.group() for piece in pieces for m in _OTHER_STOPS.finditer(piece)]
    joined: list[str] = []
    for piece in pieces:
        if joined and not any(c.isalnum() for c in piece):
            joined[-1] += piece
        else:
            joined.append(piece)
    return joined


def split_sentences(text: str) -> list[Sentence]:
    """Sentences of each non-blank line, in order; spans index into `text` itself."""
    sentences: list[Sentence] = []
    for para in _PARAGRAPH.finditer(text):
        if not para.group().strip():
            continue
        cursor = para.start()
        for piece in _pieces(para.group()):
            stripped = piece.strip()
            if not stripped:
                continue
            start = text.find(stripped, cursor, para.end())
            if start < 0:  # pysbd changed the text (not expected with clean=False): keep the rest
                rest = text[cursor : para.end()]
                start, stripped = cursor + len(rest) - len(rest.lstrip()), rest.strip()
                sentences.append(
                    Sentence(len(sentences) + 1, start, start + len(stripped), stripped)
                )
                break
            end = start + len(stripped)
            sentences.append(Sentence(len(sentences) + 1, start, end, stripped))
            cursor = end
    return sentences


def estimate_tokens(text: str) -> int:
    """A cheap, slightly pessimistic token count (about 3.5 characters a token)."""
    return int(len(text) / 3.5) + 1


def chunk_sentences(
    sentences: list[Sentence], budget_tokens: int, overlap: int = 2
) -> list[list[Sentence]]:
    """Consecutive runs of whole sentences, each within the token budget, overlapping by
    `overlap` sentences so an event told across a boundary is read whole in one chunk.

    Sentences keep their article-wide numbers and spans, so evidence from any chunk points
    into the whole article.
    """
    chunks: list[list[Sentence]] = []
    current: list[Sentence] = []
    used = 0
    for sentence in sentences:
        cost = estimate_tokens(sentence.text) + 3  # "[n] " and the line break
        if current and used + cost > budget_tokens:
            chunks.append(current)
            current = current[-overlap:] if overlap else []
            used = sum(estimate_tokens(s.text) + 3 for s in current)
        current.append(sentence)
        used += cost
    if current:
        chunks.append(current)
    return chunks
