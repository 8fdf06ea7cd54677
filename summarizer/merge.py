"""Merge items that report the same occasion twice within one article.

Models often list one meeting once per paragraph that mentions it; the spec wants one item
per distinct occasion, with the evidence of both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from rapidfuzz import fuzz

from summarizer.names import contained
from summarizer.schema import Agreement, ArticleSummary, Dispute, Evidence, Meeting, Party

T = TypeVar("T", Meeting, Agreement, Dispute)


def same_party(a: Party, b: Party) -> bool:
    return contained(a.name, b.name) or contained(b.name, a.name)


def same_parties(a: Sequence[Party], b: Sequence[Party]) -> bool:
    """Every party of one list has a counterpart in the other, and vice versa."""
    return all(any(same_party(x, y) for y in b) for x in a) and all(
        any(same_party(y, x) for x in a) for y in b
    )


def dates_agree(a: str | None, b: str | None) -> bool:
    """Unknown agrees with anything; otherwise one must be the other at lower precision."""
    return a is None or b is None or a.startswith(b) or b.startswith(a)


def places_agree(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return True
    fa, fb = a.casefold(), b.casefold()
    return fa in fb or fb in fa


def _evidence(a: list[Evidence], b: list[Evidence]) -> list[Evidence]:
    merged = {(e.start, e.quote): e for e in [*a, *b]}
    return sorted(merged.values(), key=lambda e: (not e.grounded, e.start or 0))[:3]


def _longer(a: str | None, b: str | None) -> str | None:
    return max((x for x in (a, b) if x), key=len, default=None)


def _union_parties(a: list[Party], b: list[Party]) -> list[Party]:
    out = list(a)
    for p in b:
        for i, q in enumerate(out):
            if same_party(p, q):
                out[i] = p if len(p.name) > len(q.name) else q
                break
        else:
            out.append(p)
    return out


def _same_meeting(a: Meeting, b: Meeting) -> bool:
    return (
        same_parties(a.participants, b.participants)
        and a.status == b.status
        and dates_agree(a.date, b.date)
        and places_agree(a.location, b.location)
    )


def _join_meetings(a: Meeting, b: Meeting) -> Meeting:
    return a.model_copy(
        update={
            "participants": _union_parties(a.participants, b.participants),
            "date": _longer(a.date, b.date),
            "location": _longer(a.location, b.location),
            "topics": list(dict.fromkeys([*a.topics, *b.topics])),
            "outcome": a.outcome or b.outcome,
            "evidence": _evidence(a.evidence, b.evidence),
        }
    )


def _same_agreement(a: Agreement, b: Agreement) -> bool:
    return (
        same_parties(a.parties, b.parties)
        and dates_agree(a.date, b.date)
        and (a.count is None or b.count is None or a.count == b.count)
        and fuzz.token_set_ratio(a.name.casefold(), b.name.casefold()) >= 80
    )


def _join_agreements(a: Agreement, b: Agreement) -> Agreement:
    return a.model_copy(
        update={
            "parties": _union_parties(a.parties, b.parties),
            "date": _longer(a.date, b.date),
            "areas": list(dict.fromkeys([*a.areas, *b.areas])),
            "count": a.count or b.count,
            "description": a.description or b.description,
            "evidence": _evidence(a.evidence, b.evidence),
        }
    )


def _dispute_parties(d: Dispute) -> list[Party]:
    return [p for side in d.sides for p in side.parties]


def _same_dispute(a: Dispute, b: Dispute) -> bool:
    return a.kind == b.kind and same_parties(_dispute_parties(a), _dispute_parties(b))


def _join_disputes(a: Dispute, b: Dispute) -> Dispute:
    return a.model_copy(update={"evidence": _evidence(a.evidence, b.evidence)})


def _merge(items: list[T], same: Callable[[T, T], bool], join: Callable[[T, T], T]) -> list[T]:
    out: list[T] = []
    for item in items:
        for i, kept in enumerate(out):
            if same(kept, item):
                out[i] = join(kept, item)
                break
        else:
            out.append(item)
    return out


def merge_duplicates(summary: ArticleSummary) -> ArticleSummary:
    """One item per distinct occasion within an article."""
    return summary.model_copy(
        update={
            "meetings": _merge(summary.meetings, _same_meeting, _join_meetings),
            "agreements": _merge(summary.agreements, _same_agreement, _join_agreements),
            "disputes": _merge(summary.disputes, _same_dispute, _join_disputes),
        }
    )
