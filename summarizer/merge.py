"""Merge items that report the same occasion twice within one article.

Models often list one meeting once per paragraph that mentions it; the spec wants one item
per distinct occasion, with the evidence of both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from rapidfuzz import fuzz

from summarizer.names import contained
from summarizer.schema import (
    Agreement,
    ArticleSummary,
    Dispute,
    Evidence,
    Meeting,
    Party,
    parties,
)

T = TypeVar("T", Meeting, Agreement, Dispute)


def same_name(a: str, b: str) -> bool:
    return contained(a, b) or contained(b, a)


def same_party(a: Party, b: Party) -> bool:
    return same_name(a.name, b.name)


def stands_for(a: Party, b: Party) -> bool:
    """Same party, or a person against the country or body they act for ("Nicolás Maduro
    (Venezuela)" and "Venezuela"): outlets and models name either."""
    if same_party(a, b):
        return True
    return any(
        p.kind == "person"
        and p.affiliation is not None
        and q.kind != "person"
        and same_name(p.affiliation, q.name)
        for p, q in ((a, b), (b, a))
    )


def _covered(a: Sequence[Party], b: Sequence[Party]) -> bool:
    """Every party of `a` has a counterpart in `b`, a person standing for their country."""
    return all(any(stands_for(x, y) for y in b) for x in a)


def same_parties(a: Sequence[Party], b: Sequence[Party]) -> bool:
    """Every party of one list has a counterpart in the other, and vice versa."""
    return _covered(a, b) and _covered(b, a)


def nested_parties(a: Sequence[Party], b: Sequence[Party]) -> bool:
    """One list's parties are all in the other (a meeting told once with its aides, once
    without), and at least two of them."""
    return min(len(a), len(b)) >= 2 and (_covered(a, b) or _covered(b, a))


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
    """Both lists' parties once each; a person beats their country, a longer name a shorter."""
    out = list(a)
    for p in b:
        for i, q in enumerate(out):
            if stands_for(p, q):
                out[i] = max(p, q, key=lambda x: (x.kind == "person", len(x.name)))
                break
        else:
            out.append(p)
    return out


def _same_meeting(a: Meeting, b: Meeting) -> bool:
    # Places are not compared: one article calls the same venue "the Kremlin", "Moscow" and
    # "Red Square"; two meetings of the same people in one article differ by date.
    return (
        nested_parties(a.participants, b.participants)
        and a.status == b.status
        and dates_agree(a.date, b.date)
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


def _same_dispute(a: Dispute, b: Dispute) -> bool:
    return a.kind == b.kind and same_parties(parties(a), parties(b))


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
