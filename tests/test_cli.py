"""The CLI shell: help, usage errors (exit 2, no traceback) and `show`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import Result as CliResult
from typer.testing import CliRunner

from summarizer.cli import app
from summarizer.writers import LineLog
from tests.test_writers import make_result

RUN_OPTIONS = {
    "--out": "results.jsonl",
    "--format": "jsonl",
    "--concurrency": "4",
    "--rpm": "no limit",
    "--dry-run": None,
    "--quiet": None,
    "--verbose": None,
    "--base-url": "the embedded model",
    "--model": "qwen2.5-coder-1.5b",
    "--api-key": "$OPENAI_API_KEY",
    "--mode": "auto",
    "--cache-dir": None,
    "--no-cache": None,
    "--refresh": None,
    "--strict": None,
    "--max-reasks": "2",
    "--max-cost": "no limit",
    "--max-chars": "200000",
    "--n-ctx": "8192",
    "--config": None,
}


def cli(*args: str) -> CliResult:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})


def test_run_help_lists_every_option_with_its_default() -> None:
    result = cli("run", "--help")
    assert result.exit_code == 0
    text = re.sub(r"[│\s]+", " ", result.output)
    table = text[text.index("Options") :]
    starts = [table.index(f" {option} ") for option in RUN_OPTIONS]
    assert starts == sorted(starts)  # declaration order, so each option's text ends at the next
    for (option, default), start, end in zip(
        RUN_OPTIONS.items(), starts, [*starts[1:], len(table)], strict=True
    ):
        if default is not None:
            assert re.search(rf"\[default: \(?{re.escape(default)}", table[start:end]), option
    assert "OPENAI_API_KEY" in text and "Insecure" in text


def test_commands_are_registered() -> None:
    text = cli("--help").output
    assert all(f" {name} " in text for name in ("run", "show", "eval"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--quiet", "--verbose"], "--quiet and --verbose exclude each other"),
        (["--no-cache", "--refresh"], "--no-cache and --refresh exclude each other"),
        (["--out", "results.csv"], "--out results.jsonl --format csv"),
        (["--out", "sub/results.errors.jsonl"], "--out cannot end in .errors.jsonl"),
        (["--max-reasks", "9"], "invalid settings: max_reasks: Input should be less than or equal"),
        (["--config", "missing.toml"], "config file missing.toml does not exist"),
        (["--max-cost", "1"], "--max-cost needs the model's price"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("Leaders met in Caracas on Thursday.")
    result = cli("run", "a.txt", "--cache-dir", str(tmp_path / "cache"), *args)
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line
    assert "Traceback" not in result.output
    assert not (tmp_path / "results.jsonl").exists()


def test_bad_option_value_is_a_usage_error() -> None:
    assert cli("run", "x.txt", "--format", "xml").exit_code == 2
    assert cli("run", "x.txt", "--concurrency", "0").exit_code == 2
    assert cli("run").exit_code == 2


def test_unreadable_config_file_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("base_url = [unclosed")
    result = cli("run", str(tmp_path), "--config", str(bad))
    assert result.exit_code == 2
    assert f"error: config file {bad} is unreadable" in result.stderr


def test_duplicate_ids_exit_2_naming_both_sources(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    (tmp_path / "one" / "story.txt").write_text("Leaders met.")
    (tmp_path / "two" / "story.md").write_text("Leaders met again.")
    result = cli("run", str(tmp_path), "--out", str(tmp_path / "r.jsonl"))
    assert result.exit_code == 2
    assert "duplicate ids: 'story'" in result.stderr
    assert str(tmp_path / "one" / "story.txt") in result.stderr
    assert str(tmp_path / "two" / "story.md") in result.stderr


def test_no_articles_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    result = cli("run", str(tmp_path), "--out", str(tmp_path / "r.jsonl"))
    assert result.exit_code == 2
    assert "no articles found" in result.stderr


def test_show_prints_what_was_found(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    with LineLog(path) as log:
        log.append(make_result("x1").model_dump_json())
        log.append("not a result")
    result = cli("show", str(path))
    assert result.exit_code == 0
    assert "Talks in Moscow, x1" in result.stdout
    assert "Venezuela vs Guyana; ExxonMobil" in result.stdout
    assert "1 article: 1 meeting, 1 agreement, 1 dispute" in result.stdout
    assert "warning: skipped lines that are not results: 2" in result.stderr


def test_show_missing_file_exits_2(tmp_path: Path) -> None:
    result = cli("show", str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 2
    assert "no such file" in result.stderr
