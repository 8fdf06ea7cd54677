"""Show a `Report` as rich tables for people, and write it as JSON for baselines and tools."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .scorer import KINDS, Counts, KindReport, Report, Score

MAX_MISSES = 20
EVIDENCE_WIDTH = 160
_FIELD_LABELS = {"parties": "participants / parties"}


def write_report(report: Report, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")


def render_report(report: Report, console: Console, max_misses: int = MAX_MISSES) -> None:
    """Print the headline, items, fields, grounding and the worst misses."""
    columns: list[tuple[str, KindReport]] = [
        *((kind, report.kinds[kind]) for kind in KINDS),
        ("all (micro)", report.overall),
    ]
    console.print(_headline(report))
    console.print(_items_table(columns))
    console.print(_fields_table(columns))
    console.print(_grounding_table(columns))
    if report.missing_predictions:
        console.print(
            "[yellow]No prediction (scored as all missed):[/] "
            + escape(", ".join(report.missing_predictions))
        )
    if report.unscored_predictions:
        console.print(
            "[yellow]Predictions without gold (not scored):[/] "
            + escape(", ".join(report.unscored_predictions))
        )
    for line in _misses(report, max_misses):
        console.print(line)


def _headline(report: Report) -> str:
    articles = len(report.articles)
    interval = (
        f"95% CI {report.f1_ci[0]:.3f}-{report.f1_ci[1]:.3f} over {articles} articles"
        if report.f1_ci
        else "no articles"
    )
    return f"[bold]Headline micro F1 {report.f1:.3f}[/] ({interval})"


def _items_table(columns: list[tuple[str, KindReport]]) -> Table:
    table = Table(title="Items")
    for header in ("kind", "P", "R", "F1", "TP", "FP", "FN"):
        table.add_column(header, justify="left" if header == "kind" else "right")
    for name, kind in columns:
        table.add_row(name, *_counts_cells(kind.counts))
    return table


def _counts_cells(counts: Counts) -> list[str]:
    return [
        f"{counts.precision:.3f}",
        f"{counts.recall:.3f}",
        f"{counts.f1:.3f}",
        str(counts.tp),
        str(counts.fp),
        str(counts.fn),
    ]


def _fields_table(columns: list[tuple[str, KindReport]]) -> Table:
    table = Table(title="Fields over matched pairs: mean (pairs scored)")
    table.add_column("field")
    for name, _ in columns:
        table.add_column(name, justify="right")
    for field in columns[-1][1].fields:
        table.add_row(
            _FIELD_LABELS.get(field, field),
            *(_score_cell(kind.fields.get(field)) for _, kind in columns),
        )
    return table


def _grounding_table(columns: list[tuple[str, KindReport]]) -> Table:
    table = Table(title="Grounding: predicted quotes found in the article")
    for header in ("kind", "rate", "grounded / quotes"):
        table.add_column(header, justify="left" if header == "kind" else "right")
    for name, kind in columns:
        rate = kind.grounding.mean
        table.add_row(
            name,
            "-" if rate is None else f"{rate:.3f}",
            f"{kind.grounding.total:.0f} / {kind.grounding.n}",
        )
    return table


def _score_cell(score: Score | None) -> str:
    if score is None or score.mean is None:
        return "-"
    return f"{score.mean:.3f} ({score.n})"


def _misses(report: Report, max_misses: int) -> Iterator[str]:
    """The worst misses, each with the nearest candidate so the reason it failed shows."""
    yield f"[bold]Misses[/] ({len(report.misses)}: gold not found, predictions matching nothing)"
    for miss in report.misses[:max_misses]:
        other = "prediction" if miss.problem == "missed" else "gold item"
        nearest = (
            f"nearest {other}: similarity {miss.nearest_similarity:.2f}, "
            f"party F1 {miss.nearest_party_f1:.2f}"
            if miss.nearest_similarity is not None and miss.nearest_party_f1 is not None
            else f"no {other} of this kind"
        )
        yield (
            f"[bold]{miss.problem}[/] {miss.kind} in {escape(miss.article)}: {escape(miss.label)}\n"
            f"    parties: {escape('; '.join(miss.parties))}\n"
            f"    {nearest}\n"
            f"    evidence: {escape(_shorten(miss.evidence[0]))}"
        )
    if len(report.misses) > max_misses:
        yield f"... {len(report.misses) - max_misses} more in the JSON report"


def _shorten(text: str, width: int = EVIDENCE_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."
