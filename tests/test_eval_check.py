"""Baselines and the regression check, and `eval_command` driven through a real typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from summarizer.eval import EvalError
from summarizer.eval.baseline import (
    Baseline,
    baseline_path,
    check,
    load_baseline,
    model_slug,
    save_baseline,
)
from summarizer.eval.cli import eval_command
from summarizer.eval.gold import GoldArticle, load_gold
from summarizer.eval.scorer import Report, score
from typer.testing import CliRunner

from summarizer.schema import ArticleSummary, Result, RunInfo

GOLD = Path(__file__).resolve().parents[1] / "eval" / "gold"
FIRST = "000_629038d28f75d859"


@pytest.fixture(scope="module")
def gold() -> dict[str, GoldArticle]:
    return load_gold(GOLD)


def perfect(gold: dict[str, GoldArticle]) -> dict[str, ArticleSummary]:
    return {i: article.as_summary() for i, article in gold.items()}


def lowered(gold: dict[str, GoldArticle]) -> dict[str, ArticleSummary]:
    """Perfect except the first article's first (required) meeting is missing."""
    predictions = perfect(gold)
    first = predictions[FIRST]
    predictions[FIRST] = first.model_copy(update={"meetings": first.meetings[1:]})
    return predictions


def baseline_of(report: Report, prompt_version: str = "v1") -> Baseline:
    return Baseline(model="m", prompt_version=prompt_version, report=report)


def test_an_unchanged_result_passes(gold: dict[str, GoldArticle]) -> None:
    report = score(gold, perfect(gold))
    assert check(report, baseline_of(report), current_prompt_version="v1") == []


def test_a_drop_beyond_tolerance_fails(gold: dict[str, GoldArticle]) -> None:
    accepted = score(gold, perfect(gold))
    now = score(gold, lowered(gold))
    # 21 of 22 required items: headline 42/43 (-0.023), meetings 22/23 (-0.043).
    assert now.f1 == pytest.approx(42 / 43)
    failures = check(now, baseline_of(accepted), tolerance=0.02, current_prompt_version="v1")
    assert [f.split(" F1 ")[0] for f in failures] == ["headline", "meeting"]
    assert "below the baseline 1.000" in failures[0]


def test_a_drop_within_tolerance_passes(gold: dict[str, GoldArticle]) -> None:
    accepted = score(gold, perfect(gold))
    now = score(gold, lowered(gold))
    assert check(now, baseline_of(accepted), tolerance=0.05, current_prompt_version="v1") == []


def test_a_changed_prompt_version_fails(gold: dict[str, GoldArticle]) -> None:
    report = score(gold, perfect(gold))
    [failure] = check(report, baseline_of(report, "v1"), current_prompt_version="v2")
    assert failure.startswith("prompt files changed since the baseline was recorded")
    assert failure.endswith("run the eval and --save-baseline")


def test_a_baseline_round_trips_through_its_file(
    gold: dict[str, GoldArticle], tmp_path: Path
) -> None:
    report = score(gold, lowered(gold))
    path = baseline_path("Qwen/Qwen2.5 Coder:1.5B", tmp_path)
    assert path == tmp_path / "qwen-qwen2.5-coder-1.5b.json"
    saved = save_baseline(path, report, model="qwen", prompt_version="v1")
    loaded = load_baseline(path)
    assert loaded == saved
    assert loaded.report.f1 == report.f1
    assert check(report, loaded, tolerance=0.0, current_prompt_version="v1") == []


def test_a_missing_baseline_says_how_to_record_one(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="--save-baseline"):
        load_baseline(tmp_path / "none.json")


def test_model_slug() -> None:
    assert model_slug("gpt-4o-mini") == "gpt-4o-mini"
    assert model_slug("/models/Qwen2.5.gguf") == "models-qwen2.5.gguf"
    assert model_slug("???") == "model"


# --- the command, through a typer app like the main CLI's ---

app = typer.Typer()
app.command("eval")(eval_command)


@app.command("other")
def _other() -> None:
    """A second command so `eval` is a subcommand, as in the main CLI."""


def write_results(path: Path, summaries: dict[str, ArticleSummary], prompt: str = "p1") -> Path:
    run = RunInfo(model="stub-model", endpoint="http://127.0.0.1", prompt_version=prompt)
    lines = [Result(summary=s, run=run).model_dump_json() for s in summaries.values()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def invoke(*args: str | Path) -> tuple[int, str]:
    # Wide enough that rich never wraps a path in the middle of an assertion.
    result = CliRunner().invoke(
        app, ["eval", "--gold", str(GOLD), *map(str, args)], env={"COLUMNS": "400"}
    )
    return result.exit_code, " ".join(result.output.split())


def test_help_documents_every_option() -> None:
    code, text = invoke("--help")
    assert code == 0
    for option in [
        "--gold", "--inputs", "--results", "--report", "--check", "--save-baseline",
        "--baseline", "--tolerance", "--model", "--base-url", "--join",
    ]:  # fmt: skip
        assert option in text


def test_scoring_a_results_file_writes_the_report(
    gold: dict[str, GoldArticle], tmp_path: Path
) -> None:
    results = write_results(tmp_path / "results.jsonl", lowered(gold))
    code, text = invoke("--results", results, "--report", tmp_path / "out" / "report.json")
    assert code == 0, text
    assert "Headline micro F1 0.977" in text
    assert f"missed meeting in {FIRST}" in text
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["f1"] == pytest.approx(42 / 43)
    assert report["kinds"]["meeting"]["counts"] == {
        "tp": 11, "fp": 0, "fn": 1, "precision": 1.0, "recall": 11 / 12, "f1": 22 / 23,
    }  # fmt: skip


def test_save_baseline_records_model_and_prompt_version(
    gold: dict[str, GoldArticle], tmp_path: Path
) -> None:
    results = write_results(tmp_path / "results.jsonl", perfect(gold), prompt="p7")
    baseline = tmp_path / "baselines" / "stub.json"
    code, text = invoke(
        "--results", results, "--report", tmp_path / "r.json", "--save-baseline",
        "--baseline", baseline,
    )  # fmt: skip
    assert code == 0, text
    saved = load_baseline(baseline)
    assert (saved.model, saved.prompt_version, saved.report.f1) == ("stub-model", "p7", 1.0)


def test_check_fails_with_exit_1_when_the_prompts_changed(
    gold: dict[str, GoldArticle], tmp_path: Path
) -> None:
    pytest.importorskip("summarizer.prompts")  # --check reads the current prompt version
    baseline = tmp_path / "b.json"
    save_baseline(baseline, score(gold, perfect(gold)), model="m", prompt_version="not-current")
    results = write_results(tmp_path / "results.jsonl", perfect(gold))
    code, text = invoke(
        "--results", results, "--report", tmp_path / "r.json", "--check", "--baseline", baseline
    )
    assert code == 1
    assert "check failed: prompt files changed since the baseline was recorded" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--check", "--save-baseline"], "use --check or --save-baseline, not both"),
        (["--check", "--baseline", "missing.json"], "no baseline at missing.json"),
        (["--tolerance", "-1"], "Invalid value"),
    ],
)
def test_usage_errors_exit_2(
    gold: dict[str, GoldArticle], tmp_path: Path, args: list[str], message: str
) -> None:
    results = write_results(tmp_path / "results.jsonl", perfect(gold))
    code, text = invoke("--results", results, "--report", tmp_path / "r.json", *args)
    assert code == 2
    assert message in text


def test_a_bad_results_line_is_a_usage_error_naming_the_line(tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    results.write_text('{"summary": {}}\n', encoding="utf-8")
    code, text = invoke("--results", results, "--report", tmp_path / "r.json")
    assert code == 2
    assert "results.jsonl:1 is not a Result" in text


def test_a_baseline_keeps_scores_but_no_article_text(
    gold: dict[str, GoldArticle], tmp_path: Path
) -> None:
    """Misses quote the gold's evidence; a baseline of copyrighted articles carries none."""
    report = score(gold, lowered(gold))
    assert report.misses  # the lowered predictions miss something to quote
    path = tmp_path / "dev.json"
    save_baseline(path, report, model="qwen", prompt_version="v1")
    text = path.read_text(encoding="utf-8")
    assert all(q not in text for m in report.misses for q in m.evidence)
    assert load_baseline(path).report.f1 == report.f1
