"""The scorer on hand-made articles whose exact scores can be worked out by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from summarizer.eval.gold import GoldArticle, load_gold
from summarizer.eval.scorer import (
    Counts,
    NameMatcher,
    Report,
    bootstrap_ci,
    date_score,
    fold_name,
    location_matches,
    score,
)

from summarizer.schema import (
    KINDS,
    Agreement,
    ArticleSummary,
    Dispute,
    Evidence,
    Item,
    ItemKind,
    Meeting,
    Party,
)

GOLD = Path(__file__).resolve().parents[1] / "eval" / "gold"


def person(name: str, affiliation: str | None = None) -> Party:
    return Party(name=name, kind="person", affiliation=affiliation)


def country(name: str) -> Party:
    return Party(name=name, kind="country")


# Quotes long enough to state an item: a shorter one never counts as grounded (grounding.py).
QUOTES = (
    "The two presidents met at the Kremlin on Thursday.",
    "They discussed energy, trade and security cooperation.",
    "Both leaders signed a joint statement after the talks.",
)


def evidence(*grounded: bool) -> list[Evidence]:
    return [Evidence(quote=QUOTES[i], grounded=g) for i, g in enumerate(grounded or (True,))]


def meeting(*participants: Party, **fields: Any) -> Meeting:
    fields.setdefault("status", "held")
    fields.setdefault("evidence", evidence())
    return Meeting(participants=list(participants), **fields)


def agreement(*parties: Party, name: str = "strategic partnership", **fields: Any) -> Agreement:
    fields.setdefault("status", "signed")
    fields.setdefault("evidence", evidence())
    return Agreement(name=name, parties=list(parties), **fields)


def dispute(*sides: list[Party], issue: str = "the war", **fields: Any) -> Dispute:
    fields.setdefault("kind", "military")
    fields.setdefault("status", "ongoing")
    fields.setdefault("evidence", evidence())
    return Dispute(issue=issue, sides=[{"parties": side} for side in sides], **fields)


def optional(item: Item) -> dict[str, Any]:
    return {**item.model_dump(), "optional": True}


def gold(*items: Item | dict[str, Any], aliases: dict[str, list[str]] | None = None) -> GoldArticle:
    """A gold article "a"; an item passed through `optional()` is optional."""
    lists: dict[str, list[Any]] = {"meetings": [], "agreements": [], "disputes": []}
    for item in items:
        data = item if isinstance(item, dict) else item.model_dump()
        kind = "meetings" if "participants" in data else "disputes" if "sides" in data else ""
        lists[kind or "agreements"].append(data)
    return GoldArticle.model_validate(
        {"id": "a", "summary": "s", "aliases": aliases or {}, **lists}
    )


def pred(*items: Item) -> ArticleSummary:
    return ArticleSummary(
        id="a",
        summary="s",
        meetings=[i for i in items if isinstance(i, Meeting)],
        agreements=[i for i in items if isinstance(i, Agreement)],
        disputes=[i for i in items if isinstance(i, Dispute)],
    )


def run(expected: GoldArticle, predicted: ArticleSummary) -> Report:
    return score({expected.id: expected}, {predicted.id: predicted})


def prf(report: Report, kind: ItemKind | None = None) -> tuple[int, int, int, float, float, float]:
    """TP, FP, FN, P, R, F1 of one kind, or micro-averaged over all kinds."""
    counts = report.kinds[kind].counts if kind else report.overall.counts
    return counts.tp, counts.fp, counts.fn, counts.precision, counts.recall, counts.f1


def field(report: Report, kind: ItemKind, name: str) -> tuple[float, int]:
    scored = report.kinds[kind].fields[name]
    return scored.total, scored.n


MADURO = person("Nicolás Maduro", "Venezuela")
PUTIN = person("Vladimir Putin", "Russia")
XI = person("Xi Jinping", "China")
LULA = person("Luiz Inácio Lula da Silva", "Brazil")
KREMLIN = meeting(MADURO, PUTIN, date="2025-05-08", location="Kremlin, Moscow")
BEIJING = meeting(XI, LULA, date="2024-11", location="Beijing")


def test_the_gold_files_scored_against_themselves_are_perfect() -> None:
    expected = load_gold(GOLD)
    report = score(expected, {i: article.as_summary() for i, article in expected.items()})
    for kind in [*KINDS, None]:
        assert prf(report, kind)[3:] == (1.0, 1.0, 1.0)
    assert {name: s.mean for name, s in report.overall.fields.items()} == dict.fromkeys(
        ["parties", "date", "location", "status", "areas", "count", "kind"], 1.0
    )
    assert report.overall.grounding.mean == 1.0
    assert report.f1 == 1.0
    assert report.f1_ci == (1.0, 1.0)
    assert report.misses == [] and report.missing_predictions == []


def test_a_missing_item_costs_recall_and_is_listed() -> None:
    report = run(gold(KREMLIN, BEIJING), pred(KREMLIN))
    assert prf(report, "meeting") == (1, 0, 1, 1.0, 0.5, pytest.approx(2 / 3))
    [miss] = report.misses
    assert (miss.problem, miss.kind, miss.article) == ("missed", "meeting", "a")
    assert miss.parties == ["Xi Jinping (China)", "Luiz Inácio Lula da Silva (Brazil)"]
    assert miss.evidence == [QUOTES[0]]
    assert miss.nearest_party_f1 == 0.0


def test_an_extra_item_costs_precision_and_is_listed() -> None:
    report = run(gold(KREMLIN), pred(KREMLIN, BEIJING))
    assert prf(report, "meeting") == (1, 1, 0, 0.5, 1.0, pytest.approx(2 / 3))
    assert [(m.problem, m.label) for m in report.misses] == [("spurious", "2024-11, Beijing")]


def test_order_does_not_matter_and_dates_pick_the_right_pair() -> None:
    moscow = meeting(MADURO, PUTIN, date="2019-09", location="Moscow")
    report = run(gold(KREMLIN, moscow), pred(moscow, KREMLIN))
    assert prf(report, "meeting") == (2, 0, 0, 1.0, 1.0, 1.0)
    assert field(report, "meeting", "date") == (2.0, 2)


def test_micro_average_pools_the_kinds() -> None:
    deal = agreement(country("Russia"), country("Venezuela"))
    other_deal = agreement(country("China"), country("Brazil"), name="trade deal")
    report = run(gold(KREMLIN, BEIJING, deal), pred(KREMLIN, deal, other_deal))
    assert prf(report, "meeting") == (1, 0, 1, 1.0, 0.5, pytest.approx(2 / 3))
    assert prf(report, "agreement") == (1, 1, 0, 0.5, 1.0, pytest.approx(2 / 3))
    assert prf(report, "dispute") == (0, 0, 0, 1.0, 1.0, 1.0)
    assert prf(report) == (2, 1, 1, pytest.approx(2 / 3), pytest.approx(2 / 3), 2 / 3)


def test_an_alias_from_the_gold_file_matches() -> None:
    expected = agreement(country("Russia"), country("Venezuela"))
    predicted = agreement(country("Russian Federation"), country("Venezuela"))
    with_alias = run(gold(expected, aliases={"Russia": ["Russian Federation"]}), pred(predicted))
    assert prf(with_alias, "agreement") == (1, 0, 0, 1.0, 1.0, 1.0)
    assert field(with_alias, "agreement", "parties") == (1.0, 1)
    # Without the alias one of two parties is right: F1 0.5 is no match.
    without = run(gold(expected), pred(predicted))
    assert prf(without, "agreement") == (0, 1, 1, 0.0, 0.0, 0.0)


def test_a_bare_surname_or_a_title_matches_the_full_name() -> None:
    predicted = meeting(
        person("Maduro"), person("President Vladímir PUTIN"), date="2025-05-08", location="Moscow"
    )
    report = run(gold(KREMLIN), pred(predicted))
    assert prf(report, "meeting") == (1, 0, 0, 1.0, 1.0, 1.0)
    assert field(report, "meeting", "parties") == (1.0, 1)
    assert field(report, "meeting", "location") == (1.0, 1)


def test_an_ambiguous_surname_matches_neither_namesake() -> None:
    ramzan = meeting(MADURO, person("Ramzan Kadyrov"), date="2025-05")
    akhmat_deal = agreement(person("Akhmat Kadyrov"), PUTIN, name="agreement with Putin")
    predicted = meeting(person("Maduro"), person("Kadyrov"), date="2025-05")

    report = run(gold(ramzan, optional(akhmat_deal)), pred(predicted))
    assert prf(report, "meeting") == (0, 1, 1, 0.0, 0.0, 0.0)
    assert {m.nearest_party_f1 for m in report.misses} == {0.5}
    # With one Kadyrov in the article the surname is unambiguous.
    assert prf(run(gold(ramzan), pred(predicted)), "meeting") == (1, 0, 0, 1.0, 1.0, 1.0)

    names = NameMatcher(["Ramzan Kadyrov", "Akhmat Kadyrov", "Kadyrov"], {})
    assert not names.same("Kadyrov", "Ramzan Kadyrov")
    assert not names.same("Kadyrov", "Akhmat Kadyrov")
    assert names.same("Ramzan Kadyrov", "Mr. Ramzan Kadyrov")


def test_a_person_matches_their_country_as_an_agreement_party() -> None:
    countries = agreement(country("Venezuela"), country("Russia"))
    leaders = agreement(MADURO, PUTIN)
    for expected, predicted in [(countries, leaders), (leaders, countries)]:
        report = run(gold(expected), pred(predicted))
        assert prf(report, "agreement") == (1, 0, 0, 1.0, 1.0, 1.0)
        assert field(report, "agreement", "parties") == (1.0, 1)
    # Without an affiliation there is nothing to lift: one of two parties right.
    unaffiliated = agreement(MADURO, person("Vladimir Putin"))
    assert prf(run(gold(countries), pred(unaffiliated)), "agreement")[:3] == (0, 1, 1)


def test_meeting_participants_are_not_lifted_to_their_country() -> None:
    report = run(gold(KREMLIN), pred(meeting(country("Venezuela"), country("Russia"))))
    assert prf(report, "meeting") == (0, 1, 1, 0.0, 0.0, 0.0)


def test_dispute_sides_are_flattened_so_side_order_is_free() -> None:
    expected = dispute([country("Russia")], [country("Ukraine")])
    predicted = dispute([country("Ukraine")], [PUTIN], kind="political")
    report = run(gold(expected), pred(predicted))
    assert prf(report, "dispute") == (1, 0, 0, 1.0, 1.0, 1.0)
    assert field(report, "dispute", "parties") == (1.0, 1)
    assert field(report, "dispute", "kind") == (0.0, 1)
    assert field(report, "dispute", "status") == (1.0, 1)


def test_party_f1_must_beat_one_half() -> None:
    a, b, c = person("Ana Alves"), person("Bo Berg"), person("Cy Chen")
    # {A, B} against {A, C}: P = R = F1 = 0.5, a different meeting.
    assert prf(run(gold(meeting(a, c)), pred(meeting(a, b))), "meeting")[:3] == (0, 1, 1)
    # {A, B} against {A, B, C}: P = 1, R = 2/3, F1 = 0.8, the same meeting.
    report = run(gold(meeting(a, b, c)), pred(meeting(a, b)))
    assert prf(report, "meeting")[:3] == (1, 0, 0)
    assert field(report, "meeting", "parties") == (pytest.approx(0.8), 1)


def test_an_optional_item_earns_nothing_and_costs_nothing() -> None:
    expected = gold(KREMLIN, optional(BEIJING))
    assert prf(run(expected, pred(KREMLIN)), "meeting") == (1, 0, 0, 1.0, 1.0, 1.0)
    found = run(expected, pred(KREMLIN, BEIJING))
    assert prf(found, "meeting") == (1, 0, 0, 1.0, 1.0, 1.0)
    assert found.misses == []
    only_optional = run(expected, pred(BEIJING))
    assert prf(only_optional, "meeting") == (0, 0, 1, 0.0, 0.0, 0.0)


def test_a_prediction_goes_to_the_required_item_first_and_optional_fields_are_not_scored() -> None:
    cuba = person("Miguel Díaz-Canel", "Cuba")
    official = meeting(MADURO, cuba, date="2025-05", location="Moscow")
    tribute = meeting(MADURO, cuba, date="2025-05", location="Simón Bolívar monument, Moscow")
    report = run(gold(official, optional(tribute)), pred(tribute))
    assert prf(report, "meeting") == (1, 0, 0, 1.0, 1.0, 1.0)
    assert field(report, "meeting", "location") == (1.0, 1)

    planned = meeting(XI, LULA, date="2024-11", location="Beijing", status="planned")
    both = run(gold(KREMLIN, optional(BEIJING)), pred(KREMLIN, planned))
    assert field(both, "meeting", "status") == (1.0, 1)


def test_dates_at_another_precision_score_half() -> None:
    assert date_score("2025-05", "2025-05-08") == 0.5
    assert date_score("2025-05-08", "2025-05") == 0.5
    assert date_score("2025", "2025-05-08") == 0.5
    assert date_score("2025-05-08", "2025-05-08") == 1.0
    assert date_score("2025-05-09", "2025-05-08") == 0.0
    assert date_score("2025-06", "2025-05-08") == 0.0
    assert date_score(None, "2025-05-08") == 0.0

    a, b, c = (meeting(MADURO, p) for p in (PUTIN, XI, LULA))
    expected = gold(
        a.model_copy(update={"date": "2025-05-08"}),
        b.model_copy(update={"date": "2025-04"}),
        c,
    )
    predicted = pred(
        a.model_copy(update={"date": "2025-05"}),
        b,
        c.model_copy(update={"date": "2025-01-01"}),
    )
    report = run(expected, predicted)
    assert prf(report, "meeting")[:3] == (3, 0, 0)
    # Scored where gold has a date: 0.5 (other precision) + 0 (none predicted), over 2.
    assert field(report, "meeting", "date") == (0.5, 2)
    assert report.kinds["meeting"].fields["date"].mean == 0.25


def test_locations_match_by_containment_of_whole_words() -> None:
    assert location_matches("Kremlin, Moscow", "Moscow")
    assert location_matches("moscow", "Kremlin, Moscow")
    assert location_matches("Simon Bolivar monument", "Simón Bolívar Monument, Moscow")
    assert not location_matches("Romania", "Rome")
    assert not location_matches(None, "Moscow")


def test_agreement_areas_and_count() -> None:
    expected = agreement(
        country("Russia"), country("Venezuela"), areas=["energy", "mining"], count=17
    )
    predicted = agreement(country("Russia"), country("Venezuela"), areas=["energy", "defense"])
    report = run(gold(expected), pred(predicted))
    assert field(report, "agreement", "areas") == (0.5, 1)
    assert field(report, "agreement", "count") == (0.0, 1)
    report = run(gold(expected), pred(expected))
    assert field(report, "agreement", "count") == (1.0, 1)


def test_grounding_rate_counts_predicted_quotes() -> None:
    predicted = pred(KREMLIN.model_copy(update={"evidence": evidence(True, False, True)}), BEIJING)
    report = run(gold(KREMLIN), predicted)
    assert report.kinds["meeting"].grounding.total == 3
    assert report.kinds["meeting"].grounding.n == 4
    assert report.overall.grounding.mean == 0.75


def test_a_missing_prediction_is_all_false_negatives() -> None:
    other = gold(BEIJING).model_copy(update={"id": "b"})
    report = score({"a": gold(KREMLIN), "b": other}, {"a": pred(KREMLIN), "z": pred()})
    assert report.missing_predictions == ["b"]
    assert report.unscored_predictions == ["z"]
    assert prf(report, "meeting") == (1, 0, 1, 1.0, 0.5, pytest.approx(2 / 3))
    assert report.per_article["b"] == Counts(fn=1)


def test_bootstrap_interval() -> None:
    assert bootstrap_ci([]) is None
    # One article: every resample is that article, so the interval is its F1.
    assert bootstrap_ci([Counts(tp=1, fn=1)]) == (pytest.approx(2 / 3), pytest.approx(2 / 3))
    articles = [Counts(tp=3), Counts(fp=1, fn=1), Counts(tp=1, fn=2)]
    low, high = bootstrap_ci(articles) or (0.0, 0.0)
    pooled = articles[0] + articles[1] + articles[2]
    assert pooled.f1 == 8 / 12
    assert 0.0 <= low < pooled.f1 < high <= 1.0
    assert bootstrap_ci(articles) == (low, high), "a fixed seed gives the same interval"


def test_name_folding() -> None:
    assert fold_name("President Nicolás MADURO") == ("nicolas", "maduro")
    assert fold_name("U.S.") == fold_name("US") == ("us",)
    assert fold_name("Kassym-Jomar Tokayev") == ("kassym", "jomar", "tokayev")
    assert fold_name("The President") == ("the", "president")
