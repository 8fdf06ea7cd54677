"""What many test files share: the stub's config file, the CLI run in-process, stories that
each make their own request, output readers, and a scripted model for the "sentences"
strategy (deterministic answers that depend only on the request).

Fixtures live in conftest.py; these are plain helpers.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import Result as CliResult
from typer.testing import CliRunner

from summarizer.cli import app
from summarizer.schema import Result
from tests.conftest import ARTICLE
from tests.stub_server import Reply, StubServer

SUMMARIZER = Path(sys.executable).with_name("summarizer")  # the installed console script


def write_config(path: Path, stub: StubServer, **extra: Any) -> Path:
    """A TOML settings file for the stub: quick transport retries, the article strategy."""
    values = {
        "base_url": stub.base_url,
        "model": "stub-model",
        "api_key": "sk-test-secret",
        "mode": "json_schema",
        "strategy": "article",  # one scripted reply per article
        "max_attempts": 2,
        "max_retry_time": 5,
        "timeout": 5,
        **extra,
    }
    path.write_text("".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items()))
    return path


def cli_args(config: Path, *args: str) -> list[str]:
    return ["run", *args, "--config", str(config), "--cache-dir", str(config.parent / "cache")]


def invoke(config: Path, *args: str, input: bytes | str | None = None) -> CliResult:
    """`summarizer run ARGS` in-process, with the stub's config and a real cache folder."""
    return CliRunner().invoke(app, cli_args(config, *args), input=input)


def story(n: int) -> str:
    """ARTICLE plus a distinct last sentence: a different request (no cache hit) per story."""
    return f"{ARTICLE}\nStory number {n}."


def write_stories(folder: Path, count: int, first: int = 0) -> list[str]:
    folder.mkdir(exist_ok=True)
    for n in range(first, first + count):
        (folder / f"s{n:02d}.txt").write_text(story(n), encoding="utf-8")
    return [f"s{n:02d}" for n in range(first, first + count)]


def output_ids(path: Path) -> list[str]:
    """Ids in the output, in file order; every line must be a whole, valid Result."""
    return [Result.model_validate_json(line).id for line in path.read_text().splitlines()]


def results_by_id(path: Path) -> dict[str, Result]:
    return {r.id: r for r in map(Result.model_validate_json, path.read_text().splitlines())}


def error_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


_ASKED = re.compile(r'[Ss]entence \[(\d+)\](?: only)?: "(.*)"')
_NAME = re.compile(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)+")


def scripted_model(request: dict[str, Any]) -> Reply:
    """Answers that depend only on the request, for the "sentences" strategy: an overview
    naming the article's digest, a sentence "reports" a meeting when it says "met" and an
    agreement when it says "signed", and the items name the capitalised names of the
    sentence."""
    schema = request["response_format"]["json_schema"]["name"]
    if schema == "Overview":
        digest = hashlib.sha256(json.dumps(request["messages"][:-1]).encode()).hexdigest()
        return Reply(
            {"title": 1, "lang": "en", "dateline": None, "summary": f"Report {digest[:10]}."}
        )
    # The question, or the one a re-ask (the last message) refers back to.
    asked = next(filter(None, (_ASKED.search(m["content"]) for m in request["messages"][::-1])))
    n, sentence = int(asked.group(1)), asked.group(2)
    if schema == "SentenceReport":
        kind = "meeting" if " met " in sentence else "agreement" if "signed" in sentence else ""
        return Reply({"reports": kind or "nothing"})
    names = [*dict.fromkeys(_NAME.findall(sentence)), "Some Official", "Another Official"][:3]
    actors = [{"name": name, "kind": "person", "role": None, "of": None} for name in names]
    if schema == "FoundMeetings":
        meeting = {"who": names, "when": None, "where": None, "status": "held", "topics": []}
        return Reply({"actors": actors, "meetings": [{**meeting, "outcome": None, "ev": [n]}]})
    agreement = {"name": "an agreement", "parties": names, "when": None, "status": "signed"}
    extra = {"areas": [], "count": None, "about": None, "ev": [n]}
    return Reply({"actors": actors, "agreements": [{**agreement, **extra}]})


def wait_for(check: Callable[[], bool], timeout: float = 15) -> None:
    """Poll until `check()` holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
