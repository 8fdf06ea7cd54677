"""Score predicted summaries against gold, as spec/extraction.md "Scoring" prescribes.

Choices the spec leaves open, made here once:
- Pairing similarity is `PARTY_WEIGHT * party F1 + DATE_WEIGHT * date agreement +
  TEXT_WEIGHT * text similarity` (text: a meeting's location and topics, an agreement's
  name, a dispute's issue; rapidfuzz token_set_ratio). A component one side does not state
  counts `NEUTRAL`. Identical parties alone (0.6) clear `THRESHOLD` (0.5), so a meeting with
  the right people but a wrong date still pairs and the date error shows in the date score;
  with partial party overlap (F1 0.8 scores 0.48) date or text must agree a little too.
- A pair also needs party F1 strictly above 0.5: one of two participants right is a
  different meeting.
- Party F1 is set F1 under the name-match relation: precision is the share of predicted
  parties that match some gold party, recall the share of gold parties some predicted party
  matches. Agreement parties and dispute sides lift a person to their affiliation ("Nicolás
  Maduro (Venezuela)" matches "Venezuela"), so a country and its envoy both count as covered;
  two persons never match through a shared affiliation.
- Dispute sides are flattened to one set of parties: who is in the dispute is scored, which
  side they are on is not (models split and merge sides too freely for that to be stable).
- Optional gold items are matched only after required ones, against the predictions left
  over, so a prediction earns a true positive whenever it can.
- `areas` is scored on every matched agreement (an empty gold list means the article names
  none, so invented areas score 0); `date`, `location` and `count` only where gold has one.
- Precision, recall and F1 of nothing predicted against nothing expected are 1.0.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, Field, computed_field
from rapidfuzz import fuzz
from scipy.optimize import linear_sum_assignment

from summarizer.grounding import is_statement
from summarizer.schema import (
    KINDS,
    Agreement,
    ArticleSummary,
    Dispute,
    Item,
    ItemKind,
    Meeting,
    Party,
    parties,
)

from .gold import GoldArticle, GoldItem

PARTY_WEIGHT = 0.6
DATE_WEIGHT = 0.2
TEXT_WEIGHT = 0.2
THRESHOLD = 0.5
MIN_PARTY_F1 = 0.5
NEUTRAL = 0.5
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0

# Titles, honorifics and articles dropped from names before comparing ("President Maduro"
# is "Maduro"). Words that name a party by office ("ambassador", "patriarch") are kept.
DROPPED_WORDS = frozenset(
    {
        "the",
        "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor",
        "sir", "dame", "lord", "lady", "king", "queen", "prince", "princess",
        "emir", "sheikh", "sultan", "his", "her", "excellency", "majesty", "highness",
        "president", "vice", "deputy", "prime", "minister", "premier", "chancellor",
        "secretary", "senator", "sen", "governor", "gov", "mayor",
        "general", "gen", "captain", "capt", "colonel", "col", "lieutenant", "lt",
        "major", "maj", "admiral", "adm", "commander", "sergeant", "sgt",
    }
)  # fmt: skip
# Removed without a trace so "U.S." folds like "US"; other punctuation separates words.
_JOINING = frozenset(".'`\u2018\u2019\u00b4")


def fold_text(text: str) -> str:
    """Case-fold, strip accents and punctuation: the form names and places are compared in."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = (
        "" if ch in _JOINING or unicodedata.combining(ch) else ch if ch.isalnum() else " "
        for ch in decomposed
    )
    return " ".join("".join(kept).split())


def fold_name(name: str) -> tuple[str, ...]:
    """A name's words without titles; a name that is nothing but titles keeps them."""
    words = tuple(fold_text(name).split())
    return tuple(w for w in words if w not in DROPPED_WORDS) or words


class NameMatcher:
    """Decides whether two names denote the same party within one article.

    `names` is every party name the gold and the prediction use for that article: a
    shorter name ("Kadyrov") matches a longer one ("Ramzan Kadyrov") only when no other,
    unrelated name among them ("Akhmat Kadyrov") contains its words too.
    """

    def __init__(self, names: Iterable[str], aliases: dict[str, list[str]]) -> None:
        self._group: dict[tuple[str, ...], int] = {}
        for number, (canonical, others) in enumerate(aliases.items()):
            for alias in (canonical, *others):
                self._group.setdefault(fold_name(alias), number)
        # Each name's word set, with its alias group so a name is never "other" to itself.
        self._universe = {
            frozenset(folded): self._group.get(folded) for n in names if (folded := fold_name(n))
        }
        self._cache: dict[tuple[str, str], bool] = {}

    def same(self, a: str, b: str) -> bool:
        if (a, b) not in self._cache:
            self._cache[(a, b)] = self._same(fold_name(a), fold_name(b))
        return self._cache[(a, b)]

    def _same(self, a: tuple[str, ...], b: tuple[str, ...]) -> bool:
        if not a or not b:
            return False
        group_a, group_b = self._group.get(a), self._group.get(b)
        if a == b or (group_a is not None and group_a == group_b):
            return True
        groups = {g for g in (group_a, group_b) if g is not None}
        return any(
            self._contained(frozenset(x), frozenset(y), groups)
            for x in self._forms(a, group_a)
            for y in self._forms(b, group_b)
        )

    def _forms(self, name: tuple[str, ...], group: int | None) -> list[tuple[str, ...]]:
        """The name and, when it is an alias, every other name of its party."""
        if group is None:
            return [name]
        return [name, *(n for n, g in self._group.items() if g == group and n != name)]

    def _contained(self, x: frozenset[str], y: frozenset[str], groups: set[int]) -> bool:
        short, long = (x, y) if len(x) <= len(y) else (y, x)
        if not short <= long:
            return False
        return not any(
            short <= other and not (other <= long or long <= other or group in groups)
            for other, group in self._universe.items()
        )


def party_matches(names: NameMatcher, lift: bool, a: Party, b: Party) -> bool:
    """Same name, or (when `lift`) a person against the country or body they act for."""
    if names.same(a.name, b.name):
        return True
    return lift and any(
        p.kind == "person"
        and p.affiliation is not None
        and q.kind != "person"
        and names.same(p.affiliation, q.name)
        for p, q in ((a, b), (b, a))
    )


def party_f1(
    pred: Sequence[Party], gold: Sequence[Party], match: Callable[[Party, Party], bool]
) -> float:
    """Set F1 of two party lists under `match` (see the module notes)."""
    pred, gold = _distinct(pred), _distinct(gold)
    found = sum(any(match(p, g) for g in gold) for p in pred)
    covered = sum(any(match(p, g) for p in pred) for g in gold)
    if not found:
        return 1.0 if not pred and not gold else 0.0
    # 2PR/(P+R) with P = found/|pred|, R = covered/|gold|, in integers so 0.5 is exact.
    return 2 * found * covered / (found * len(gold) + covered * len(pred))


def _distinct(parties: Sequence[Party]) -> list[Party]:
    seen: dict[tuple[str, ...], Party] = {}
    for party in parties:
        seen.setdefault(fold_name(party.name), party)
    return list(seen.values())


def date_score(pred: str | None, gold: str) -> float:
    """1 for the same date, 0.5 for one consistent at another precision, else 0."""
    if pred == gold:
        return 1.0
    if pred is not None and (gold.startswith(pred + "-") or pred.startswith(gold + "-")):
        return 0.5
    return 0.0


def location_matches(pred: str | None, gold: str) -> bool:
    """One folded place contains the other as whole words ("Kremlin, Moscow" ~ "Moscow")."""
    if pred is None:
        return False
    a, b = f" {fold_text(pred)} ", f" {fold_text(gold)} "
    return a in b or b in a


def set_f1(pred: Iterable[str], gold: Iterable[str]) -> float:
    p, g = set(pred), set(gold)
    if not p and not g:
        return 1.0
    return 2 * len(p & g) / (len(p) + len(g))


def _text_similarity(a: str, b: str) -> float:
    if not a or not b:
        return NEUTRAL
    return fuzz.token_set_ratio(fold_text(a), fold_text(b)) / 100


T = TypeVar("T", Meeting, Agreement, Dispute)


@dataclass(frozen=True)
class _Rules(Generic[T]):
    """How one kind of item is paired and which of its fields are scored."""

    lift: bool
    text: Callable[[T], str]
    date: Callable[[T], str | None]
    fields: Callable[[T, T], dict[str, float | None]]
    label: Callable[[T], str]


def _meeting_fields(pred: Meeting, gold: Meeting) -> dict[str, float | None]:
    return {
        "date": date_score(pred.date, gold.date) if gold.date else None,
        "location": float(location_matches(pred.location, gold.location))
        if gold.location
        else None,
        "status": float(pred.status == gold.status),
    }


def _agreement_fields(pred: Agreement, gold: Agreement) -> dict[str, float | None]:
    return {
        "date": date_score(pred.date, gold.date) if gold.date else None,
        "status": float(pred.status == gold.status),
        "areas": set_f1(pred.areas, gold.areas),
        "count": float(pred.count == gold.count) if gold.count is not None else None,
    }


def _dispute_fields(pred: Dispute, gold: Dispute) -> dict[str, float | None]:
    return {"status": float(pred.status == gold.status), "kind": float(pred.kind == gold.kind)}


RULES: dict[ItemKind, _Rules[Any]] = {
    "meeting": _Rules[Meeting](
        lift=False,
        text=lambda m: " ".join(filter(None, [m.location, *m.topics])),
        date=lambda m: m.date,
        fields=_meeting_fields,
        label=lambda m: f"{m.date or 'no date'}, {m.location or 'no location'}",
    ),
    "agreement": _Rules[Agreement](
        lift=True,
        text=lambda a: a.name,
        date=lambda a: a.date,
        fields=_agreement_fields,
        label=lambda a: a.name,
    ),
    "dispute": _Rules[Dispute](
        lift=True,
        text=lambda d: d.issue,
        date=lambda d: None,
        fields=_dispute_fields,
        label=lambda d: d.issue,
    ),
}


class Counts(BaseModel):
    """Item-level true positives, false positives and false negatives."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(tp=self.tp + other.tp, fp=self.fp + other.fp, fn=self.fn + other.fn)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp, vacuous=self.fn == 0)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn, vacuous=self.fp == 0)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def f1(self) -> float:
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn, vacuous=True)


def _ratio(numerator: int, denominator: int, *, vacuous: bool) -> float:
    # An empty denominator is perfect only when nothing at all was expected or predicted.
    if denominator == 0:
        return 1.0 if vacuous else 0.0
    return numerator / denominator


class Score(BaseModel):
    """A running mean: `total` of the per-pair scores over the `n` pairs where it applies."""

    total: float = 0.0
    n: int = 0

    def add(self, value: float) -> None:
        self.total += value
        self.n += 1

    def __add__(self, other: Score) -> Score:
        return Score(total=self.total + other.total, n=self.n + other.n)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None


class KindReport(BaseModel):
    """Item counts, field scores over matched required pairs, and grounding of one kind."""

    counts: Counts = Field(default_factory=Counts)
    fields: dict[str, Score] = Field(default_factory=dict)
    grounding: Score = Field(default_factory=Score)

    def __add__(self, other: KindReport) -> KindReport:
        names = [*self.fields, *(f for f in other.fields if f not in self.fields)]
        return KindReport(
            counts=self.counts + other.counts,
            fields={f: self.fields.get(f, Score()) + other.fields.get(f, Score()) for f in names},
            grounding=self.grounding + other.grounding,
        )


class Miss(BaseModel):
    """A required gold item no prediction matched, or a prediction that matched nothing."""

    article: str
    kind: ItemKind
    problem: Literal["missed", "spurious"]
    label: str
    parties: list[str]
    evidence: list[str]
    nearest_similarity: float | None = Field(
        None, description="best pairing similarity to any item on the other side"
    )
    nearest_party_f1: float | None = Field(None, description="party F1 of that nearest item")


class Report(BaseModel):
    articles: list[str]
    missing_predictions: list[str] = Field(description="gold ids with no prediction: all FN")
    unscored_predictions: list[str] = Field(description="predicted ids with no gold file")
    kinds: dict[ItemKind, KindReport]
    overall: KindReport = Field(description="micro-average over the three kinds")
    f1_ci: tuple[float, float] | None = Field(
        description="bootstrap 95% interval of the headline F1 over articles"
    )
    per_article: dict[str, Counts]
    misses: list[Miss]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def f1(self) -> float:
        """The headline: micro-averaged item F1 over all three kinds."""
        return self.overall.counts.f1


@dataclass
class _Outcome:
    report: KindReport
    misses: list[Miss]


def score(gold: dict[str, GoldArticle], pred: dict[str, ArticleSummary]) -> Report:
    """Score `pred` against `gold` by article id; a gold id without a prediction scores empty."""
    kinds: dict[ItemKind, KindReport] = {kind: KindReport() for kind in KINDS}
    per_article: dict[str, Counts] = {}
    misses: list[Miss] = []
    for article_id in sorted(gold):
        expected = gold[article_id]
        predicted = pred.get(article_id) or ArticleSummary(id=article_id, summary="")
        names = NameMatcher(_party_names(expected, predicted), expected.aliases)
        per_article[article_id] = Counts()
        for kind in KINDS:
            outcome = _score_kind(
                article_id, kind, _of_kind(predicted, kind), _of_kind(expected, kind), names
            )
            kinds[kind] += outcome.report
            per_article[article_id] += outcome.report.counts
            misses.extend(outcome.misses)
    misses.sort(key=lambda m: (m.problem != "missed", m.nearest_similarity or 0.0, m.article))
    return Report(
        articles=sorted(gold),
        missing_predictions=sorted(set(gold) - set(pred)),
        unscored_predictions=sorted(set(pred) - set(gold)),
        kinds=kinds,
        overall=kinds["meeting"] + kinds["agreement"] + kinds["dispute"],
        f1_ci=bootstrap_ci(list(per_article.values())),
        per_article=per_article,
        misses=misses,
    )


def _of_kind(article: ArticleSummary, kind: ItemKind) -> list[Item]:
    return [item for k, item in article.items() if k == kind]


def _party_names(*articles: ArticleSummary) -> list[str]:
    return [
        party.name
        for article in articles
        for kind, item in article.items()
        for party in parties(item)
    ]


def _is_optional(item: Item) -> bool:
    return isinstance(item, GoldItem) and item.optional


def _score_kind(
    article_id: str, kind: ItemKind, pred: list[Item], gold: list[Item], names: NameMatcher
) -> _Outcome:
    rules = RULES[kind]
    match = partial(party_matches, names, rules.lift)
    party = np.zeros((len(pred), len(gold)))
    similarity = np.zeros((len(pred), len(gold)))
    for i, p in enumerate(pred):
        for j, g in enumerate(gold):
            party[i, j] = party_f1(parties(p), parties(g), match)
            pd, gd = rules.date(p), rules.date(g)
            similarity[i, j] = (
                PARTY_WEIGHT * party[i, j]
                + DATE_WEIGHT * (date_score(pd, gd) if pd and gd else NEUTRAL)
                + TEXT_WEIGHT * _text_similarity(rules.text(p), rules.text(g))
            )
    allowed = (party > MIN_PARTY_F1) & (similarity >= THRESHOLD)
    required = [j for j, g in enumerate(gold) if not _is_optional(g)]
    optional = [j for j, g in enumerate(gold) if _is_optional(g)]
    pairs = _assign(similarity, allowed, list(range(len(pred))), required)
    left = [i for i in range(len(pred)) if i not in {p for p, _ in pairs}]
    extra = _assign(similarity, allowed, left, optional)

    report = KindReport(
        counts=Counts(tp=len(pairs), fp=len(left) - len(extra), fn=len(required) - len(pairs))
    )
    report.fields["parties"] = Score()
    for i, j in pairs:
        report.fields["parties"].add(float(party[i, j]))
        for field, value in rules.fields(pred[i], gold[j]).items():
            if value is not None:
                report.fields.setdefault(field, Score()).add(value)
    for item in pred:
        for evidence in item.evidence:
            # Only a located span that can state an item counts: never a bare number or date.
            report.grounding.add(float(evidence.grounded and is_statement(evidence.quote)))

    found = {j for _, j in pairs}
    used = {i for i, _ in extra} | {i for i, _ in pairs}
    misses = [
        _miss(article_id, kind, "missed", gold[j], similarity[:, j], party[:, j])
        for j in required
        if j not in found
    ] + [
        _miss(article_id, kind, "spurious", pred[i], similarity[i], party[i])
        for i in range(len(pred))
        if i not in used
    ]
    return _Outcome(report, misses)


def _assign(
    weights: np.ndarray, allowed: np.ndarray, rows: list[int], cols: list[int]
) -> list[tuple[int, int]]:
    """The one-to-one pairing of `rows` with `cols` of greatest total weight, allowed pairs only."""
    if not rows or not cols:
        return []
    sub = np.where(allowed, weights, 0.0)[np.ix_(rows, cols)]
    picked_rows, picked_cols = linear_sum_assignment(sub, maximize=True)
    pairs = [(rows[r], cols[c]) for r, c in zip(picked_rows, picked_cols, strict=True)]
    return [(r, c) for r, c in pairs if allowed[r, c]]


def _miss(
    article_id: str,
    kind: ItemKind,
    problem: Literal["missed", "spurious"],
    item: Item,
    similarity: np.ndarray,
    party: np.ndarray,
) -> Miss:
    rules = RULES[kind]
    nearest = int(similarity.argmax()) if similarity.size else None
    return Miss(
        article=article_id,
        kind=kind,
        problem=problem,
        label=rules.label(item),
        parties=[f"{p.name} ({p.affiliation})" if p.affiliation else p.name for p in parties(item)],
        evidence=[e.quote for e in item.evidence],
        nearest_similarity=None if nearest is None else round(float(similarity[nearest]), 3),
        nearest_party_f1=None if nearest is None else round(float(party[nearest]), 3),
    )


def bootstrap_ci(
    per_article: Sequence[Counts],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float] | None:
    """95% percentile interval of micro F1 over articles resampled with replacement.

    With one article every resample is that article, so the interval collapses to its F1;
    with none there is nothing to resample and the interval is None.
    """
    if not per_article:
        return None
    counts = np.array([[c.tp, c.fp, c.fn] for c in per_article], dtype=float)
    picks = np.random.default_rng(seed).integers(0, len(counts), size=(resamples, len(counts)))
    tp, fp, fn = counts[picks].sum(axis=1).T
    denominator = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denominator, out=np.ones_like(denominator), where=denominator > 0)
    low, high = np.percentile(f1, [2.5, 97.5])
    return float(low), float(high)
