"""The benchmark report names the default strategy from the data and judges issue 16's speed
goals (<= 60 s per article, <= 1.6x the seconds and <= 2x the generated tokens of the
one-request `article` strategy in the same run) from the figures, met or missed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import report
from bench.goals import PREVIOUS, speed_goals


def _score(f1: float) -> dict[str, Any]:
    kind = {"f1": f1, "precision": f1, "recall": f1, "tp": 1, "fp": 1, "fn": 1}
    return {
        "f1": f1, "precision": f1, "recall": f1, "tp": 4, "fp": 2, "fn": 3,
        "f1_ci": [f1 - 0.1, f1 + 0.1],
        "kinds": {"meeting": kind, "agreement": kind, "dispute": kind},
        "per_article_f1": {"000": f1, "001": f1},
    }  # fmt: skip


def _strategy(seconds: float, completion: int, f1: float, rows: bool = True) -> dict[str, Any]:
    row = {
        "id": "000", "wall_s": seconds, "requests": 3, "prompt_tokens": 3000,
        "fresh_tokens": 900, "completion_tokens": completion, "text_tokens": 700,
        "by_part": {}, "detail": [],
    }  # fmt: skip
    return {
        "articles": 2,
        "wall_s_per_article": seconds,
        "requests_per_article": 12.0,
        "prompt_tokens_per_article": 30000,
        "fresh_tokens_per_article": 2000,
        "completion_tokens_per_article": completion,
        "text_tokens_per_article": 700,
        "score": _score(f1),
        "rows": [row] if rows else None,
    }


def _main_row(article_id: str, seconds: float, completion: int) -> dict[str, Any]:
    return {
        "id": article_id, "chars": 3000, "attempts": 1, "load_start": 0.2,
        "foreign_cpu": [0.01, 0.02], "wall_s": seconds, "latency_s": seconds,
        "requests": 12, "reasks": 0, "by_task": {"article": 3},
        "prompt_tokens": 30000, "completion_tokens": completion, "fresh_tokens": 2000,
        "text_tokens": 700, "by_part": {}, "detail": [], "upstream_s": seconds - 0.5,
        "server_ms": 1000.0, "replay_s": seconds - 1, "replay_completion_tokens": completion,
        "replay_fresh_tokens": 2000, "identical_outputs": 12, "ratio": 1.02,
        "in_run_ratio": 1.01, "warnings": 0,
    }  # fmt: skip


MACHINE = {
    "date": "2026-12-05T14:00:00", "cores": 2, "cpu": "test cpu", "cpu_flags": ["avx2"],
    "memory_gib": 8, "os": "Linux", "python": "3.11", "llama_cpp_python": "0.3",
    "instructor": "1", "openai": "1", "langextract": "-",
}  # fmt: skip


def results(seconds: float, article_seconds: float, completion: int) -> dict[str, Any]:
    """A run in the new format: `checked` the default, measured in main and strategies."""
    main_rows = [_main_row("000", seconds, completion), _main_row("001", seconds, completion)]
    return {
        "machine": MACHINE,
        "command": "python bench/run.py --sections main,strategies",
        "prompt_version": "abc",
        "git": "deadbeef",
        "articles": [{"id": "000", "chars": 3000}, {"id": "001", "chars": 3000}],
        "settings": {"max_wait": 120.0, "foreign_limit": 0.15, "retries": 1},
        "default_strategy": "checked",
        "main": {
            "strategy": "checked",
            "rows": main_rows,
            "articles": 2,
            "wall_s_per_article": seconds,
            "ratio": 1.02,
            "in_run_ratio": 1.01,
            "overhead_s_per_article": 1.0,
            "client_s_per_article": 0.5,
        },
        "strategies": {
            "default": "checked",
            "checked": _strategy(seconds, completion, 0.6, rows=False),
            "article": _strategy(article_seconds, 290, 0.44),
            "select": _strategy(seconds * 0.8, completion - 100, 0.55),
        },
        "total_seconds": 600.0,
    }


def _row(markdown: str, starts: str) -> str:
    """The one table row of the goals table that starts with `starts`."""
    rows = [line for line in markdown.splitlines() if line.startswith(f"| {starts}")]
    assert rows, f"no row starting {starts!r}"
    return rows[-1]


@pytest.mark.parametrize(
    ("seconds", "article_seconds", "completion", "verdicts"),
    [
        (50.0, 40.0, 500, ["met", "met", "met"]),  # 50 s; 1.25x; 1.72x
        (70.0, 40.0, 700, ["**missed**", "**missed**", "**missed**"]),  # 70 s; 1.75x; 2.41x
        (50.0, 25.0, 560, ["met", "**missed**", "met"]),  # 50 s; 2.00x; 1.93x
    ],
)
def test_speed_goals_are_judged_from_the_figures(
    seconds: float, article_seconds: float, completion: int, verdicts: list[str]
) -> None:
    r = results(seconds, article_seconds, completion)
    goals = speed_goals(r)
    assert [g.verdict for g in goals] == verdicts
    assert goals[1].result.startswith(f"{seconds / article_seconds:.2f}x")
    assert goals[2].result.startswith(f"{completion / 290:.2f}x")
    md = report.render(r)
    # The speed section's goals table carries the same verdicts as the computation.
    table = md.split("### Goals for the default strategy", 1)[1].split("## 2.", 1)[0]
    assert _row(table, "seconds per article, default `checked`").endswith(f"| {verdicts[0]} |")
    assert _row(table, "seconds per article: `checked` / `article`").endswith(f"| {verdicts[1]} |")
    assert _row(table, "generated tokens per article: `checked` / `article`").endswith(
        f"| {verdicts[2]} |"
    )
    docs = report.render_docs(r)
    assert f"goal <= 1.6x: {verdicts[1]}" in docs and f"goal <= 2x: {verdicts[2]}" in docs


def test_the_report_names_the_recorded_default_and_keeps_the_previous_one_as_before() -> None:
    md = report.render(results(50.0, 40.0, 500))
    assert "## 1. Speed and overhead (default strategy: `checked`)" in md
    assert "`checked` (default):" in md and "`select`:" in md
    assert "(default)" not in md.replace("`checked` (default)", "")
    before = next(line for line in md.splitlines() if line.startswith("Before:"))
    assert f"`{PREVIOUS['strategy']}`, the previous default" in before
    assert f"{PREVIOUS['seconds']:.0f} s per article" in before
    assert f"{PREVIOUS['completion']:,} generated tokens" in before
    assert "Now: `checked`, 50 s per article" in before


def test_goals_without_the_article_strategy_are_not_measured() -> None:
    r = results(50.0, 40.0, 500)
    del r["strategies"]
    goals = speed_goals(r)
    assert [g.verdict for g in goals] == ["met", "not measured", "not measured"]
    md = report.render(r)
    row = "| seconds per article: `checked` / `article`, same run | - | <= 1.6x | not measured |"
    assert row in md


def test_old_results_render_as_the_previous_default(tmp_path: Path) -> None:
    """Results written before the bench recorded its strategy: no `strategy`/`default` keys,
    the previous default measured, sections missing."""
    r = results(220.0, 38.0, 2828)
    del r["default_strategy"], r["main"]["strategy"]
    st = r["strategies"]
    del st["default"], st["select"]
    st["sentences"] = st.pop("checked")
    md_path, docs_path = tmp_path / "RESULTS.md", tmp_path / "bench.md"
    report.write(r, md_path, docs_path)
    md = md_path.read_text(encoding="utf-8")
    assert "## 1. Speed and overhead (default strategy: `sentences`)" in md
    assert "## 3. Cache hits and grounding" in md and "_Not run (section not selected)._" in md
    assert _row(md, "generated tokens per article: `sentences` / `article`").endswith(
        "| **missed** |"
    )
    assert "default strategy `sentences`" in docs_path.read_text(encoding="utf-8")
