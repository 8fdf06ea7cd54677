"""Reliability, round two (issue 17): through the real `summarizer` command against the
loopback OpenAI-protocol server.

No empty answer is written as a success; every billed attempt counts against --max-cost;
the API key reaches no file whatever carries it; CSV, Markdown and the terminal get text
they cannot be hijacked by; only regular files are read, and never without a size cap; a
bad or busy --out stops the run before anything is sent.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from summarizer.config import CONFIG_ENV, ENV_VARS
from summarizer.schema import Result
from tests.conftest import ARTICLE, article_reply
from tests.stub_server import Reply, StubServer
from tests.support import (
    SUMMARIZER,
    cli_args,
    error_lines,
    invoke,
    output_ids,
    story,
    wait_for,
    write_config,
    write_stories,
)

KEY = "sk-live-reliability-4c1d9e7f0a"
MAX_INPUT_BYTES = 32 * 2**20  # the documented cap on an input file


def schema_of(request: dict[str, Any]) -> str:
    return request["response_format"]["json_schema"]["name"]


def results(out: Path) -> list[Result]:
    return [Result.model_validate_json(line) for line in out.read_text().splitlines()]


def clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in (*ENV_VARS.values(), CONFIG_ENV)}


# -- 1. no silent empty successes ----------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "answer"),
    [("sentences", "garbage, not JSON"), ("sentences", {}), ("article", {})],
)
def test_an_article_whose_answers_are_all_invalid_fails_and_a_rerun_retries_it(
    stub: StubServer, tmp_path: Path, strategy: str, answer: Any
) -> None:
    stub.default = lambda request: Reply(answer)
    config = write_config(tmp_path / "settings.toml", stub, strategy=strategy)
    write_stories(tmp_path / "in", 1)
    out = tmp_path / "results.jsonl"
    args = (str(tmp_path / "in"), "--out", str(out), "--max-reasks", "0")
    result = invoke(config, *args)
    assert result.exit_code == 1, result.output
    assert not out.exists() or output_ids(out) == []
    [error] = error_lines(tmp_path / "results.errors.jsonl")
    assert (error["id"], error["kind"]) == ("s00", "extraction")
    assert error["raw"] == (answer if isinstance(answer, str) else "{}")
    assert "failed s00" in result.stderr

    asked = len(stub.requests)
    again = invoke(config, *args)  # nothing was cached as finished: the article is asked again
    assert again.exit_code == 1
    assert len(stub.requests) == 2 * asked
    assert len(error_lines(tmp_path / "results.errors.jsonl")) == 2


def test_an_article_fails_when_half_its_questions_fail(stub: StubServer, tmp_path: Path) -> None:
    """A valid overview, but every question about a sentence answered with garbage: the
    article fails with the reason and the raw answers, and is not kept as done."""

    def reply(request: dict[str, Any]) -> Reply:
        if schema_of(request) == "Overview":
            return Reply(
                {"title": 1, "lang": "en", "dateline": None, "summary": "Leaders met in Caracas."}
            )
        return Reply("no idea")

    stub.default = reply
    config = write_config(tmp_path / "settings.toml", stub, strategy="sentences")
    write_stories(tmp_path / "in", 1)
    out = tmp_path / "results.jsonl"
    result = invoke(config, str(tmp_path / "in"), "--out", str(out), "--max-reasks", "0")
    assert result.exit_code == 1, result.output
    assert not out.exists()
    [error] = error_lines(tmp_path / "results.errors.jsonl")
    questions = len(stub.requests)
    assert questions >= 3  # the overview and at least two sentences
    assert error["reason"].startswith(f"{questions - 1} of {questions} questions failed")
    assert error["raw"].splitlines()[0] == "[classify] no idea"


# -- 2. every billed attempt counts ---------------------------------------------------------


def test_tokens_of_invalid_answers_count_against_max_cost(stub: StubServer, tmp_path: Path) -> None:
    """150 tokens an answer at $1000 per million: each article's two invalid answers cost
    $0.30, over the $0.25 cap, so the run stops after the first article."""
    stub.default = lambda request: Reply("not JSON")
    config = write_config(tmp_path / "priced.toml", stub, price_per_mtok=[1000.0, 1000.0])
    write_stories(tmp_path / "in", 3)
    out = tmp_path / "results.jsonl"
    args = ("--out", str(out), "--concurrency", "1", "--max-cost", "0.25", "--max-reasks", "1")
    result = invoke(config, str(tmp_path / "in"), *args)
    assert result.exit_code == 1
    assert len(stub.requests) == 2
    assert "(300 tokens, 0 cache hits, ~$0.3000)" in result.stderr
    assert "stopped: --max-cost $0.25 reached (~$0.3000 spent); 2 articles left" in result.stderr


def test_run_info_counts_every_attempt(stub: StubServer, tmp_path: Path) -> None:
    """A transport retry, an invalid answer re-asked, a 200 that was no completion but
    billed: four requests, and the tokens of every body that reported usage."""
    not_a_completion = json.dumps({"usage": {"prompt_tokens": 30, "completion_tokens": 0}})
    stub.push(
        Reply(status=503, body=b'{"error": {"message": "busy"}}'),
        Reply(body=not_a_completion.encode()),
        Reply("invalid"),
        Reply(article_reply()),
    )
    config = write_config(tmp_path / "settings.toml", stub, max_attempts=3)
    write_stories(tmp_path / "in", 1)
    out = tmp_path / "results.jsonl"
    result = invoke(config, str(tmp_path / "in"), "--out", str(out), "--max-reasks", "1")
    assert result.exit_code == 0, result.output
    [done] = results(out)
    assert done.run.requests == 4
    assert (done.run.prompt_tokens, done.run.completion_tokens) == (230, 100)
    assert "330 tokens" in result.stderr


# -- 3. the API key never reaches disk ------------------------------------------------------


def test_the_api_key_reaches_no_file_whatever_carries_it(stub: StubServer, tmp_path: Path) -> None:
    """In a model's valid answer (results, cache, CSV), in an invalid one (the errors file's
    raw) and in the article itself (evidence quotes)."""

    def reply(request: dict[str, Any]) -> Reply:
        text = request["messages"][-1]["content"]
        if "Story number 1." in text:
            return Reply(f"I cannot answer, but your key is {KEY}")
        return Reply(article_reply(summary=f"Maduro met Chernyshenko; the key is {KEY}."))

    stub.default = reply
    config = write_config(tmp_path / "settings.toml", stub, api_key=KEY)
    corpus = tmp_path / "in"
    write_stories(corpus, 2)
    (corpus / "s02.txt").write_text(story(2).replace("criticised", f"criticised ({KEY})"))
    out = tmp_path / "out" / "results.jsonl"
    result = invoke(config, str(corpus), "--out", str(out), "--format", "csv", "--max-reasks", "0")
    assert result.exit_code == 1, result.output
    assert {h["authorization"] for h in stub.headers} == {f"Bearer {KEY}"}
    assert KEY not in result.output
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != config]
    written = [p for p in written if corpus not in p.parents]
    assert {p.name for p in written} >= {
        "results.jsonl",
        "results.csv",
        "results.errors.jsonl",
        "cache.db",
    }
    for path in written:
        assert KEY.encode() not in path.read_bytes(), path
    assert "the key is [API key]" in out.read_text()
    assert error_lines(out.parent / "results.errors.jsonl")[0]["raw"].endswith(
        "your key is [API key]"
    )
    s02 = next(r for r in results(out) if r.id == "s02")
    assert "([API key])" in s02.summary.disputes[0].evidence[0].quote


# -- 4, 5, 6. CSV, Markdown and the terminal -------------------------------------------------


def test_csv_cells_that_would_run_as_formulas_are_quoted(stub: StubServer, tmp_path: Path) -> None:
    agreement = {**article_reply()["agreements"][0], "name": '=HYPERLINK("http://x.test","x")'}
    agreement["about"] = "@SUM(A1:A9)"
    meeting = {**article_reply()["meetings"][0], "outcome": "+1 vote", "topics": ["-2+3"]}
    stub.default = lambda request: Reply(article_reply(agreements=[agreement], meetings=[meeting]))
    config = write_config(tmp_path / "settings.toml", stub)
    write_stories(tmp_path / "in", 1)
    out = tmp_path / "results.jsonl"
    result = invoke(config, str(tmp_path / "in"), "--out", str(out), "--format", "csv")
    assert result.exit_code == 0, result.output
    with (tmp_path / "results.csv").open(newline="", encoding="utf-8") as file:
        rows = {r["kind"]: r for r in csv.DictReader(file)}
    assert rows["agreement"]["name"] == '\'=HYPERLINK("http://x.test","x")'
    assert rows["agreement"]["description"] == "'@SUM(A1:A9)"
    assert rows["meeting"]["description"] == "'+1 vote"
    assert rows["meeting"]["topics"] == "'-2+3"
    for row in rows.values():
        assert not any(str(cell).startswith(("=", "+", "-", "@")) for cell in row.values())


def test_markdown_digest_renders_no_html_from_ids_or_articles(
    stub: StubServer, tmp_path: Path
) -> None:
    evil_id = "x` <img src=x onerror=alert(1)> `y"
    stub.default = lambda request: Reply(
        article_reply(summary="Talks <script>alert(2)</script> [click](javascript:alert(3))")
    )
    config = write_config(tmp_path / "settings.toml", stub)
    feed = tmp_path / "feed.jsonl"
    record = {"id": evil_id, "title": "<b>Bold</b> `title`", "text": ARTICLE}
    feed.write_text(json.dumps(record) + "\n")
    out = tmp_path / "results.jsonl"
    result = invoke(config, str(feed), "--out", str(out), "--format", "md")
    assert result.exit_code == 0, result.output
    html = MarkdownIt("commonmark").render((tmp_path / "results.md").read_text())
    for live in ("<img", "<script", "<b>", "<code>", 'href="javascript'):
        assert live not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # shown, as text


def test_ids_and_names_reach_the_terminal_escaped(stub: StubServer, tmp_path: Path) -> None:
    """An OSC sequence that retitles the window, a colour escape, a newline faking a line of
    our own: on the verbose, failure and `show` lines they are printed as escapes."""
    ok_id, bad_id = "ok\x1b]0;pwned\x07", "bad\x1b[31m\nerror: fake"

    def reply(request: dict[str, Any]) -> Reply:
        return Reply(
            "not JSON"
            if "Story number 1." in request["messages"][-1]["content"]
            else article_reply(summary="Fine.\x1b[2J")
        )

    stub.default = reply
    config = write_config(tmp_path / "settings.toml", stub)
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        json.dumps({"id": ok_id, "text": story(0)})
        + "\n"
        + json.dumps({"id": bad_id, "text": story(1)})
        + "\n"
    )
    out = tmp_path / "results.jsonl"
    args = cli_args(config, str(feed), "--out", str(out), "--verbose", "--max-reasks", "0")
    run = subprocess.run(
        [str(SUMMARIZER), *args], capture_output=True, env=clean_environment(), timeout=60
    )
    assert run.returncode == 1, run.stderr.decode(errors="replace")
    stderr = run.stderr.decode()
    assert "\x1b" not in stderr and "\x07" not in stderr
    assert "ok ok\\e]0;pwned\\x07:" in stderr
    assert "failed bad\\e[31m\\nerror: fake (" in stderr
    assert "\nerror: fake" not in stderr

    show = subprocess.run([str(SUMMARIZER), "show", str(out)], capture_output=True, timeout=60)
    assert show.returncode == 0, show.stderr.decode(errors="replace")
    assert b"\x1b" not in show.stdout
    assert "\\e]0;pwned" in show.stdout.decode() and "Fine.\\e[2J" in show.stdout.decode()


# -- 7. only regular files, never without a cap ---------------------------------------------


def test_fifos_devices_and_huge_files_are_refused_with_a_reason(
    stub: StubServer, tmp_path: Path
) -> None:
    """Before: the FIFO hung the run (deaf to Ctrl-C) and /dev/zero ended it in MemoryError."""
    stub.default = lambda request: Reply(article_reply())
    config = write_config(tmp_path / "settings.toml", stub)
    corpus = tmp_path / "in"
    write_stories(corpus, 1)
    os.mkfifo(corpus / "pipe.txt")
    os.mkfifo(corpus / "feed.jsonl")
    (corpus / "zero.txt").symlink_to("/dev/zero")
    with (corpus / "huge.txt").open("wb") as huge:  # sparse: no disk is used
        huge.truncate(MAX_INPUT_BYTES + 1)
    out = tmp_path / "results.jsonl"
    args = cli_args(config, str(corpus), "--out", str(out))
    run = subprocess.run(
        [str(SUMMARIZER), *args], capture_output=True, env=clean_environment(), timeout=60
    )
    assert run.returncode == 1, run.stderr.decode(errors="replace")
    assert output_ids(out) == ["s00"]
    reasons = {e["id"]: e["reason"] for e in error_lines(tmp_path / "results.errors.jsonl")}
    assert reasons == {
        "pipe": "not a regular file: a FIFO (named pipe); only regular files are read",
        "feed": "not a regular file: a FIFO (named pipe); only regular files are read",
        "zero": "not a regular file: a character device; only regular files are read",
        "huge": "file is larger than 32 MiB, the most an input may hold",
    }


# -- 8, 9. the output: checked, then locked --------------------------------------------------


def test_a_bad_out_is_one_line_and_exit_2_before_any_request(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = lambda request: Reply(article_reply())
    config = write_config(tmp_path / "settings.toml", stub)
    write_stories(tmp_path / "in", 1)
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("")
    bad = {
        tmp_path / "folder": "is a folder",
        tmp_path / "file" / "results.jsonl": "is a file, not a folder",
        tmp_path / ("x" * 300) / "results.jsonl": "cannot create",
    }
    for out, says in bad.items():
        result = invoke(config, str(tmp_path / "in"), "--out", str(out))
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
        assert says in result.stderr
    assert stub.requests == []


def test_a_second_run_on_the_same_out_is_refused_naming_the_first(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = lambda request: Reply(article_reply(), delay=0.5)
    config = write_config(tmp_path / "settings.toml", stub)
    ids = write_stories(tmp_path / "in", 4)
    out = tmp_path / "results.jsonl"
    args = cli_args(config, str(tmp_path / "in"), "--out", str(out), "--concurrency", "1")
    first = subprocess.Popen(
        [str(SUMMARIZER), *args], stderr=subprocess.PIPE, env=clean_environment()
    )
    try:
        wait_for(lambda: len(stub.requests) >= 1)
        second = invoke(config, str(tmp_path / "in"), "--out", str(out))
        assert second.exit_code == 2, second.output
        assert f"(PID {first.pid}," in second.stderr
        assert "being written by another summarizer run" in second.stderr
        _, stderr = first.communicate(timeout=60)
    finally:
        first.kill()
    assert first.returncode == 0, stderr.decode(errors="replace")
    assert sorted(output_ids(out)) == ids  # each once
    assert len(stub.requests) == 4
    again = invoke(config, str(tmp_path / "in"), "--out", str(out))  # the lock went with it
    assert again.exit_code == 0, again.output


# -- also: what the endpoint said, read-only caches, text caps -------------------------------


@pytest.mark.parametrize(
    ("status", "says"),
    [(401, "the API key was rejected"), (403, "may not use"), (404, "no such model")],
)
def test_a_rejected_request_says_it_was_not_retried(
    stub: StubServer, tmp_path: Path, status: int, says: str
) -> None:
    stub.default = lambda request: Reply(status=status, body=b'{"error": {"message": "no"}}')
    config = write_config(tmp_path / "settings.toml", stub, max_attempts=3)
    write_stories(tmp_path / "in", 1)
    result = invoke(config, str(tmp_path / "in"), "--out", str(tmp_path / "r.jsonl"))
    assert result.exit_code == 1
    assert len(stub.requests) == 1
    [error] = error_lines(tmp_path / "r.errors.jsonl")
    assert f"HTTP {status}" in error["reason"] and says in error["reason"]
    assert error["reason"].endswith("; not retried") and "after retrying" not in error["reason"]
    assert json.loads(error["raw"]) == {"error": {"message": "no"}}


def test_a_200_that_is_no_completion_keeps_its_body(stub: StubServer, tmp_path: Path) -> None:
    body = {"error": {"message": "quota exceeded", "type": "insufficient_quota"}}
    stub.default = lambda request: Reply(body=json.dumps(body).encode())
    config = write_config(tmp_path / "settings.toml", stub)
    write_stories(tmp_path / "in", 1)
    result = invoke(config, str(tmp_path / "in"), "--out", str(tmp_path / "r.jsonl"))
    assert result.exit_code == 1
    [error] = error_lines(tmp_path / "r.errors.jsonl")
    assert json.loads(error["raw"]) == body  # the body itself, not a Python repr


def test_free_text_is_capped_at_its_documented_length(stub: StubServer, tmp_path: Path) -> None:
    """A 1 MB summary and a 5,000-character outcome: re-asked, then cut with a warning."""
    meeting = {**article_reply()["meetings"][0], "outcome": "x" * 5000}
    stub.default = lambda request: Reply(
        article_reply(summary="Long. " * 200_000, meetings=[meeting])
    )
    config = write_config(tmp_path / "settings.toml", stub)
    write_stories(tmp_path / "in", 1)
    out = tmp_path / "results.jsonl"
    result = invoke(config, str(tmp_path / "in"), "--out", str(out), "--max-reasks", "1")
    assert result.exit_code == 0, result.output
    assert len(stub.requests) == 2  # the first answer was invalid: re-asked
    [done] = results(out)
    assert len(done.summary.summary) <= 1000
    assert len(done.summary.meetings[0].outcome or "") <= 500
    assert any("cut `summary` from 1,200,000 to 1,000 characters" in w for w in done.run.warnings)


SETPRIV = shutil.which("setpriv")
# Root without the capabilities that let it write what it does not own: a real read-only
# cache for a test that runs as root.
NO_OVERRIDE = "-dac_override,-dac_read_search,-fowner"


@pytest.mark.skipif(os.geteuid() != 0 or SETPRIV is None, reason="needs root and setpriv")
def test_a_read_only_cache_is_read_not_rebought(stub: StubServer, tmp_path: Path) -> None:
    """A cache filled earlier that this run may not write (owned by another user, no write
    permission): every answer comes from it, nothing is sent, nothing is rebuilt."""
    stub.default = lambda request: Reply(article_reply())
    config = write_config(tmp_path / "settings.toml", stub)
    ids = write_stories(tmp_path / "in", 2)
    first = invoke(config, str(tmp_path / "in"), "--out", str(tmp_path / "first.jsonl"))
    assert first.exit_code == 0, first.output
    asked = len(stub.requests)
    cache = tmp_path / "cache"
    for path in [cache, *cache.rglob("*")]:
        os.chown(path, 65534, 65534)
        path.chmod(0o555 if path.is_dir() else 0o444)
    out = tmp_path / "again.jsonl"
    args = cli_args(config, str(tmp_path / "in"), "--out", str(out), "--verbose")
    caps = [f"--bounding-set={NO_OVERRIDE}", f"--inh-caps={NO_OVERRIDE}"]
    run = subprocess.run(
        [str(SETPRIV), *caps, str(SUMMARIZER), *args],
        capture_output=True,
        env=clean_environment(),
        timeout=60,
    )
    assert run.returncode == 0, run.stderr.decode(errors="replace")
    assert len(stub.requests) == asked  # nothing bought again
    assert sorted(output_ids(out)) == ids
    assert all(r.run.cache_hit for r in results(out))
    assert any("is read-only" in w for r in results(out) for w in r.run.warnings)
    assert not list(tmp_path.glob("cache/responses.corrupt-*"))  # not taken for corrupt
