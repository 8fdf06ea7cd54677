"""The report: one self-contained HTML page to look at results before reading them.

Analysts look before they read. Per article the page shows the text with every evidence
quote highlighted where it stands, coloured by kind, and the items beside it; across the
corpus, a timeline and a network of actors; and filters by kind, actor and date. It is one
file that opens offline: the chart library (Apache ECharts, vendored in `static/`) and the
page's own script and style are inlined.

Results do not carry article texts, so the texts come separately (`inputs.read_texts`).
Without a text an article still shows its items and quotes, only not in place. Article
text, names and quotes are untrusted: the page escapes them (Jinja autoescape) and embeds
its data as JSON that cannot close the script element holding it.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from summarizer.actors import canonical_names
from summarizer.atomic import write_atomic
from summarizer.corpus import Corpus
from summarizer.dates import period
from summarizer.display import event_label, facts, grounded, heading, pairs
from summarizer.names import contained, fold
from summarizer.schema import KINDS, Item, Result, parties

PARTY_KINDS = ("person", "organization", "country", "group", "unknown")
ASSETS = ("echarts.min.js", "report.js", "report.css")

# Characters that could end the <script> holding the data or start markup inside it; U+2028
# and U+2029 are line breaks to older JavaScript parsers.
_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


@dataclass(frozen=True, slots=True)
class Quote:
    """One evidence quote; `note` says why it is not highlighted in the text, if it is not."""

    id: str
    text: str
    note: str | None = None

    @property
    def placed(self) -> bool:
        return self.note is None


@dataclass(frozen=True, slots=True)
class ItemView:
    """An item as the page lists it: a heading, labelled facts, and its quotes."""

    id: str
    kind: str
    heading: str
    facts: list[tuple[str, str]]
    grounded: bool
    quotes: list[Quote]


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of article text between quote boundaries, with the quotes that cover all of it."""

    text: str
    start: int
    quotes: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()


@dataclass(slots=True)
class ArticleView:
    """One article's card: its text cut into segments (None without a text) and its items."""

    key: str
    id: str
    title: str
    published: str | None
    summary: str
    warnings: list[str]
    segments: list[Segment] | None
    items: list[ItemView] = field(default_factory=list)
    misplaced: int = 0  # grounded quotes whose offsets do not fit the given text


@dataclass(frozen=True, slots=True)
class Span:
    """Where one quote stands in its article, and the kind of item that quotes it."""

    start: int
    end: int
    quote: str
    kind: str


def build_report(
    results: Sequence[Result],
    texts: Mapping[str, str],
    corpus: Corpus | None = None,
    *,
    title: str = "Summarizer report",
) -> str:
    """The whole page as one HTML string.

    `texts` maps article ids to the texts the results were made from; `corpus` is the
    merge step's output (see `load_corpus`), whose events are used for the timeline and
    network instead of
    one event per item.
    """
    page = _Page(results)
    for result in results:
        page.add(result, texts.get(result.id))
    events = page.corpus_events(corpus) if corpus is not None else page.item_events()
    data = {
        "kinds": list(KINDS),
        "partyKinds": list(PARTY_KINDS),
        "items": page.item_data,
        "quotes": page.quote_items,
        "events": events,
        "actorKinds": page.actor_kinds(events),
        "fromCorpus": corpus is not None,
    }
    actors = Counter(a for e in events for a in e["actors"])
    env = Environment(
        loader=PackageLoader("summarizer", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(
        title=title,
        articles=page.articles,
        counts=Counter(i.kind for v in page.articles for i in v.items),
        ungrounded=sum(not i.grounded for v in page.articles for i in v.items),
        missing=sum(v.segments is None for v in page.articles),
        from_corpus=corpus is not None,
        actors=sorted(actors, key=lambda a: (-actors[a], a.casefold())),
        kinds=KINDS,
        data=json_for_script(data),
        assets={name: _asset(name) for name in ASSETS},
    )


def write_report(
    out: Path,
    results: Sequence[Result],
    texts: Mapping[str, str],
    corpus: Corpus | None = None,
) -> Path:
    """Write the page to `out` through a temporary file, so a reader never sees half a page."""
    write_atomic(out, build_report(results, texts, corpus))
    return out


def json_for_script(value: Any) -> Markup:
    """JSON safe inside <script type="application/json">: no `</script>` can break out."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escape in _JSON_ESCAPES.items():
        text = text.replace(char, escape)
    return Markup(text)


def segments(text: str, spans: Sequence[Span]) -> list[Segment]:
    """Cut `text` at every span boundary, so overlapping quotes each keep their own marks."""
    cuts = sorted({0, len(text), *(s.start for s in spans), *(s.end for s in spans)})
    out: list[Segment] = []
    for a, b in itertools.pairwise(cuts):
        covering = [s for s in spans if s.start <= a and b <= s.end]
        kinds = tuple(k for k in KINDS if any(s.kind == k for s in covering))
        out.append(Segment(text[a:b], a, tuple(s.quote for s in covering), kinds))
    return out


def first_line(text: str | None, limit: int = 90) -> str | None:
    """An untitled article's heading: its first line of text, cut at a word near `limit`."""
    line = next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), None)
    if line is None or len(line) <= limit:
        return line
    return line[:limit].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


class _Page:
    """Collects article cards and the page's data while results are added in order."""

    def __init__(self, results: Sequence[Result]) -> None:
        self.articles: list[ArticleView] = []
        self.item_data: dict[str, dict[str, Any]] = {}
        self.quote_items: dict[str, str] = {}
        self._items: dict[str, tuple[Result, Item]] = {}
        self._page_ids: dict[str, str] = {}  # an item's id in the results -> on the page
        everyone = [p for r in results for _, item in r.summary.items() for p in parties(item)]
        self._names = canonical_names(everyone)
        self.party_kinds: dict[str, str] = {}
        for party in everyone:
            self.party_kinds.setdefault(self._names[party.name], party.kind)

    def add(self, result: Result, text: str | None) -> None:
        summary = result.summary
        published = summary.published.isoformat() if summary.published else None
        view = ArticleView(
            key=f"a{len(self.articles)}",
            id=summary.id,
            title=summary.title or first_line(text) or summary.id,
            published=published,
            summary=summary.summary,
            warnings=list(result.run.warnings),
            segments=None,
        )
        spans: list[Span] = []
        for kind, item in summary.items():
            item_id = f"i{len(self.item_data)}"
            quotes = []
            for evidence in item.evidence:
                quote_id = f"q{len(self.quote_items)}"
                self.quote_items[quote_id] = item_id
                start, end = evidence.start, evidence.end
                note = None
                if not evidence.grounded or start is None or end is None:
                    note = "not found in the article"
                elif text is None:
                    note = "article text not given"
                elif start >= end or text[start:end] != evidence.quote:
                    note = "does not match the text at its offsets"
                    view.misplaced += 1
                else:
                    spans.append(Span(start, end, quote_id, kind))
                quotes.append(Quote(quote_id, evidence.quote, note))
            view.items.append(
                ItemView(item_id, kind, heading(item), facts(item), grounded(item), quotes)
            )
            span = period(getattr(item, "date", None)) or period(published)
            self.item_data[item_id] = {
                "kind": kind,
                "article": view.key,
                "actors": list(dict.fromkeys(self._names[p.name] for p in parties(item))),
                "from": span[0] if span else None,
                "to": span[1] if span else None,
                "quotes": [q.id for q in quotes],
            }
            self._items[item_id] = (result, item)
            if item.id is not None:
                self._page_ids[item.id] = item_id
        if text is not None:
            view.segments = segments(text, spans)
        self.articles.append(view)

    def item_events(self) -> list[dict[str, Any]]:
        """One event per item: the timeline and network when there is no corpus."""
        events: list[dict[str, Any]] = []
        for item_id, (_, item) in self._items.items():
            data = self.item_data[item_id]
            events.append(
                self._event(
                    len(events),
                    kind=data["kind"],
                    label=event_label(item),
                    date=getattr(item, "date", None),
                    actors=data["actors"],
                    links=pairs(item),
                    items=[item_id],
                )
            )
        return events

    def corpus_events(self, corpus: Corpus) -> list[dict[str, Any]]:
        """The merge step's events, each with the items its sources name by id.

        Its actor names are unified across articles, so they replace the items' own in the
        network; an item's own names still find it through the actor filter.
        """
        events: list[dict[str, Any]] = []
        for event in corpus.events:
            items = [
                self._page_ids[s.item.id] for s in event.sources if s.item.id in self._page_ids
            ]
            links: Iterable[tuple[str, str]]
            if event.kind == "dispute":  # only the sides, not everyone, are at odds
                links = (
                    (_unified(a, event.actors), _unified(b, event.actors))
                    for s in event.sources
                    for a, b in pairs(s.item)
                )
            else:
                links = itertools.combinations(event.actors, 2)
            shown = self._event(
                len(events),
                kind=event.kind,
                label=event.label,
                date=event.date,
                actors=event.actors,
                links=links,
                items=items,
            )
            shown["place"] = event.place
            shown["conflicts"] = [
                f"{c.field}: {', '.join(f'{v} ({len(ids)})' for v, ids in c.values.items())}"
                for c in event.conflicts
            ]
            events.append(shown)
        return events

    def _event(
        self,
        index: int,
        *,
        kind: str,
        label: str,
        date: str | None,
        actors: list[str],
        links: Iterable[tuple[str, str]],
        items: list[str],
    ) -> dict[str, Any]:
        """An event for the page; an undated one is filtered by its articles' dates."""
        actors = list(dict.fromkeys(self._names.get(a, a) for a in actors))
        shown = [(self._names.get(a, a), self._names.get(b, b)) for a, b in links]
        for item_id in items:  # so the actor filter finds an item by its event's names too
            data = self.item_data[item_id]
            data["actors"] += [a for a in actors if a not in data["actors"]]
        span = period(date)
        if span is None:
            spans = [
                (d["from"], d["to"]) for d in map(self.item_data.get, items) if d and d["from"]
            ]
            span = (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else None
        return {
            "id": f"e{index}",
            "kind": kind,
            "label": label,
            "date": date if period(date) else None,
            "from": span[0] if span else None,
            "to": span[1] if span else None,
            "actors": actors,
            "pairs": sorted({_pair(a, b) for a, b in shown if fold(a) != fold(b)}),
            "items": items,
            "sources": sorted(
                {self._items[i][0].summary.title or self._items[i][0].id for i in items}
            ),
            "place": None,
            "conflicts": [],
        }

    def actor_kinds(self, events: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """Each actor's party kind (person, country, ...) for the network's node colours."""
        folded = {fold(name): kind for name, kind in self.party_kinds.items()}
        return {
            actor: self.party_kinds.get(actor) or folded.get(fold(actor), "unknown")
            for event in events
            for actor in event["actors"]
        }


def _unified(name: str, actors: Sequence[str]) -> str:
    """`name` as the corpus's unified actor that holds its words ("Maduro" → "Nicolás Maduro")."""
    return next((a for a in actors if fold(a) == fold(name)), None) or next(
        (a for a in actors if contained(name, a) or contained(a, name)), name
    )


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if (fold(a), a) <= (fold(b), b) else (b, a)


def _asset(name: str) -> Markup:
    """A vendored file's text for inlining; one that could close its element is refused."""
    text = (files("summarizer") / "static" / name).read_text(encoding="utf-8")
    closing = "</style" if name.endswith(".css") else "</script"
    if closing in text.lower() or "<!--" in text:
        raise RuntimeError(f"static/{name} cannot be inlined: it contains {closing} or <!--")
    return Markup(text)
