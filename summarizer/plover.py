"""Items as PLOVER event records, so results drop into POLECAT/GDELT-style analyses.

The fields follow the PLOVER manual (Open Event Data Alliance, "PLOVER: Event, Actor and
Data Interchange Specification", draft 0.7b1, chapter "JSON Data Fields"); records are
newline-delimited JSON, one event a line, as the manual suggests. docs/plover.md documents
the mapping and docs/plover.schema.json is the schema written from the manual's tables.

Mapping (the manual's categories; its CAMEO table sends CAMEO 11 DISAPPROVE to ACCUSE and
CAMEO 19 FIGHT to ASSAULT, so those are the names used):
- meeting: CONSULT, every participant a source (the manual: no host/visitor known);
- agreement: proposed or negotiating: AGREE (context "future"); signed or in force:
  COOPERATE; terminated: SANCTION (mode "sever");
- dispute, by kind: military ASSAULT, territorial REJECT, trade SANCTION, labor PROTEST,
  political, electoral, legal, diplomatic and other ACCUSE; the first side is the source,
  the other sides the recipient.
Actor codes are ISO 3166 alpha-3 (pycountry) for a country, or for a person or body whose
affiliation is a country; other actors carry no code. Dates: the item's own, as the first
day of its period with `date_precision`; an undated item takes its article's published date
(`date_source` says which); an item with neither cannot be a PLOVER record and is left out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import pycountry

from summarizer.actors import names_in
from summarizer.atomic import write_atomic
from summarizer.display import when
from summarizer.export import Written
from summarizer.names import stems
from summarizer.schema import Agreement, Dispute, Item, Meeting, Party, Result
from summarizer.tables import date_parts, item_id, item_name

CODEBOOK = "plover-0.7b1"
QUAD = {
    "AGREE": 1,
    "CONSULT": 1,
    "SUPPORT": 1,
    "CONCEDE": 1,
    "COOPERATE": 2,
    "AID": 2,
    "RETREAT": 2,
    "DEMAND": 3,
    "ACCUSE": 3,
    "REJECT": 3,
    "SANCTION": 3,
    "THREATEN": 3,
    "PROTEST": 4,
    "MOBILIZE": 4,
    "COERCE": 4,
    "ASSAULT": 4,
}
DISPUTE_EVENTS = {
    "military": "ASSAULT",
    "territorial": "REJECT",
    "trade": "SANCTION",
    "labor": "PROTEST",
    "political": "ACCUSE",
    "electoral": "ACCUSE",
    "legal": "ACCUSE",
    "diplomatic": "ACCUSE",
    "other": "ACCUSE",
}
# The manual's general contexts for what an item is about.
DISPUTE_CONTEXTS = {
    "military": "military",
    "territorial": "resource",
    "trade": "economic",
    "political": "political",
    "electoral": "election",
    "legal": "legal",
    "diplomatic": "diplomatic",
}
AREA_CONTEXTS = {
    "energy": "economic",
    "mining": "resource",
    "defense": "military",
    "security": "military",
    "trade": "economic",
    "finance": "economic",
    "transport": "economic",
    "agriculture": "economic",
    "technology": "economic",
    "education": "culture",
    "culture": "culture",
    "humanitarian": "humanitarian",
    "health": "humanitarian",
}


@lru_cache(maxsize=4096)
def country_code(name: str) -> str | None:
    """ISO 3166 alpha-3 of a country name ("Russia" -> "RUS"), None when it names none.

    pycountry's fuzzy search also matches a country's subdivisions ("Moscow" finds Russia),
    so a fuzzy match counts only when every word of `name` stands in the country's names.
    """
    text = name.strip().removeprefix("the ").removeprefix("The ")
    try:
        return str(pycountry.countries.lookup(text).alpha_3)
    except LookupError:
        pass
    try:
        found = pycountry.countries.search_fuzzy(text)
    except LookupError:
        return None
    wanted = stems(text)
    for country in found:
        names = " ".join(
            getattr(country, field, "") for field in ("name", "official_name", "common_name")
        )
        if wanted and wanted <= stems(names):
            return str(country.alpha_3)
    return None


def actor(party: Party, names: dict[str, str]) -> dict[str, Any]:
    """A PLOVER actor object: the code, the text as written, the canonical name, the office."""
    code = country_code(party.name) if party.kind == "country" else None
    if code is None and party.affiliation:
        code = country_code(party.affiliation)
    out: dict[str, Any] = {"actor_text": party.name, "identifier_text": names[party.name]}
    if code:
        out["code"] = code
    if party.role:
        out["office"] = party.role
    return out


def classify(item: Item) -> tuple[str, list[str], list[str]]:
    """The PLOVER event category, modes and contexts of an item."""
    match item:
        case Meeting():
            return "CONSULT", [], ["future"] if item.status == "planned" else []
        case Agreement():
            contexts = list(
                dict.fromkeys(AREA_CONTEXTS[a] for a in item.areas if a in AREA_CONTEXTS)
            )
            if item.status in ("proposed", "negotiating"):
                return "AGREE", [], [*contexts, "future"]
            if item.status == "terminated":
                return "SANCTION", ["sever"], contexts
            return "COOPERATE", [], contexts
        case Dispute():
            context = DISPUTE_CONTEXTS.get(item.kind)
            return DISPUTE_EVENTS[item.kind], [], [context] if context else []


def roles(item: Item) -> tuple[list[Party], list[Party]]:
    """Source and recipient parties: see the module's mapping."""
    match item:
        case Meeting():
            return item.participants, []
        case Agreement():
            return item.parties[:1], item.parties[1:]
        case Dispute():
            return item.sides[0].parties, [p for side in item.sides[1:] for p in side.parties]


def record(result: Result, item: Item, names: dict[str, str]) -> dict[str, Any] | None:
    """One item's PLOVER record, or None when it has no date at all."""
    summary = result.summary
    date, precision = date_parts(when(item))
    source = "event"
    if date is None:
        date, precision, source = summary.published, "day", "published"
    if date is None:
        return None
    event, modes, contexts = classify(item)
    sources, recipients = roles(item)
    out: dict[str, Any] = {
        "id": item_id(item),
        "date": date.isoformat(),
        "date_precision": precision,
        "date_source": source,
        "source": [actor(p, names) for p in sources],
        "event": [event],
        "quad_code": QUAD[event],
        "event_text": [e.quote for e in item.evidence],
    }
    if recipients:
        out["recipient"] = [actor(p, names) for p in recipients]
    if modes:
        out["mode"] = modes
    if contexts:
        out["context"] = contexts
    if location := getattr(item, "location", None):
        out["event_loc"] = {"name": location}
    placed = next((e for e in item.evidence if e.grounded and e.start is not None), None)
    if placed is not None:
        out["text_info"] = {"start": placed.start, "end": placed.end}
    cite = {"title": summary.title, "url": summary.url, "codebook": CODEBOOK}
    out["cite_info"] = {k: v for k, v in cite.items() if v}
    out["coder"] = f"summarizer ({result.run.model})"
    out["coded_date"] = result.run.created.date().isoformat()
    if comment := item_name(item) or getattr(item, "outcome", None):
        out["comment"] = comment
    out["article_id"] = summary.id
    return out


def records(results: Sequence[Result]) -> tuple[list[dict[str, Any]], int]:
    """Every item's record, and how many items had no date to give one."""
    names = names_in(results)
    out: list[dict[str, Any]] = []
    undated = 0
    for result in results:
        for _, item in result.summary.items():
            if (rec := record(result, item, names)) is None:
                undated += 1
            else:
                out.append(rec)
    return out, undated


def write_plover(target: Path, results: Sequence[Result]) -> Written:
    """Write the records as JSON lines at `target`."""
    found, undated = records(results)
    write_atomic(target, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in found))
    notes = []
    if undated:
        notes.append(
            f"left out {undated} item(s) with neither a date nor a published article date: "
            "a PLOVER record needs a date"
        )
    return Written([target], notes)
