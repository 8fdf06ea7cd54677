"""Replay the fault catalogue against loopback and count what went wrong: one table.

    python -m bench.faults [--quick]

Every case runs the installed `summarizer run` (a real process) against the scripted
OpenAI-protocol server of tests/stub_server.py, over a corpus of good stories plus the
case's hostile inputs, with the case's endpoint fault; then the endpoint heals and the same
command is rerun until it exits 0 (at most three times), as a user would. Counted, over all
cases (all must be 0):

- lost: a good article missing from the output after the healthy reruns;
- duplicated: an id written more than once;
- silently empty: a result line with neither a summary nor an item (an answer that said
  nothing, written as a success);
- secret bytes: bytes of the API key in any file the runs wrote (the corpus aside).

Not a timed test: it prints counts, and exits 1 if any is not 0.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from summarizer.config import CONFIG_ENV, ENV_VARS
from tests.conftest import ARTICLE, article_reply
from tests.stub_server import Reply, StubServer

SUMMARIZER = Path(sys.executable).with_name("summarizer")
KEY = "sk-live-FAULTS-0d9c2b7e55a1"
GOOD = 6  # good stories per case
HANG = 120  # seconds after which a run counts as hung (a healthy one takes a few)
_ASKED = re.compile(r'[Ss]entence \[(\d+)\](?: only)?: "(.*)"')
_STORY = re.compile(r"Story number (\d+)\.")

Fault = Callable[[dict[str, Any]], Reply]


def story(n: int) -> str:
    return f"{ARTICLE}\nStory number {n}."


def healthy(request: dict[str, Any]) -> Reply:
    """A model that answers every request of either strategy validly."""
    schema = request["response_format"]["json_schema"]["name"]
    if schema == "Extraction":
        return Reply(article_reply())
    if schema == "Overview":
        return Reply(
            {"title": 1, "lang": "en", "dateline": None, "summary": "Maduro met Chernyshenko."}
        )
    asked = next(filter(None, (_ASKED.search(m["content"]) for m in request["messages"][::-1])))
    n, sentence = int(asked.group(1)), asked.group(2)
    if schema == "SentenceReport":
        return Reply({"reports": "meeting" if " met " in sentence else "nothing"})
    meeting = {**article_reply()["meetings"][0], "ev": [n]}
    return Reply({"actors": article_reply()["actors"], "meetings": [meeting]})


def story_of(request: dict[str, Any]) -> int:
    match = _STORY.search(json.dumps(request["messages"]))
    return int(match.group(1)) if match else -1


def on_some(reply: Callable[[dict[str, Any]], Reply]) -> Fault:
    """The fault for every other story; the rest answered well."""
    return lambda request: reply(request) if story_of(request) % 2 else healthy(request)


def first_n(n: int, reply: Callable[[dict[str, Any]], Reply]) -> Fault:
    """The fault for the first `n` requests (a flaky spell), then healthy."""
    count, lock = [0], threading.Lock()

    def fault(request: dict[str, Any]) -> Reply:
        with lock:
            count[0] += 1
            hit = count[0] <= n
        return reply(request) if hit else healthy(request)

    return fault


def const(reply: Reply) -> Callable[[dict[str, Any]], Reply]:
    return lambda request: reply


def echo_key(request: dict[str, Any]) -> Reply:
    return Reply(status=401, body=json.dumps({"error": f"bad key {KEY}"}).encode())


def key_in_answer(request: dict[str, Any]) -> Reply:
    reply = healthy(request)
    return Reply(json.dumps(reply.content).replace("Maduro", f"Maduro {KEY}"))


@dataclass
class Case:
    name: str
    fault: Fault = healthy
    strategy: str = "sentences"
    inputs: Callable[[Path], None] | None = None  # adds hostile files to the corpus
    args: tuple[str, ...] = ()
    kill_after: int | None = None  # SIGKILL the first run once this many lines are written
    concurrent: bool = False  # a second run on the same --out while the first runs


def _bad_inputs(folder: Path) -> None:
    (folder / "empty.txt").write_text("")
    (folder / "binary.txt").write_bytes(b"%PDF\x00\x01\x02")
    (folder / "latin1.txt").write_bytes(story(90).encode("latin-1"))
    (folder / "cookies.txt").write_text("We use cookies. Accept all cookies?")
    (folder / "script.html").write_text("<html><script>x()</script></html>")
    (folder / "dangling.txt").symlink_to(folder / "missing.txt")
    os.mkfifo(folder / "fifo.txt")
    os.mkfifo(folder / "fifo.jsonl")
    (folder / "zero.txt").symlink_to("/dev/zero")
    with (folder / "huge.txt").open("wb") as huge:
        huge.truncate(33 * 2**20)
    records = [
        {"id": "esc\x1b]0;t\x07", "text": story(91)},
        {"id": "md` <img src=x>", "text": story(92)},
        {"id": "=HYPERLINK(1)", "text": story(93)},
        {"id": "keyed", "text": story(94).replace("deals.", f"deals {KEY}.")},
        {"title": "no text"},
    ]
    lines = [json.dumps(r) for r in records] + ["{broken", "[1, 2]"]
    (folder / "feed.jsonl").write_text("\n".join(lines) + "\n")


GOOD_EXTRA = {"latin1", "esc\x1b]0;t\x07", "md` <img src=x>", "=HYPERLINK(1)", "keyed"}


def catalogue(quick: bool) -> list[Case]:
    garbage = const(Reply("I am not JSON"))
    cases = [
        Case("bad inputs", inputs=_bad_inputs),
        Case("bad inputs, article strategy", strategy="article", inputs=_bad_inputs),
        Case("5xx spell", first_n(6, const(Reply(status=500, body=b'{"error": "x"}')))),
        Case(
            "429 + Retry-After", first_n(4, const(Reply(status=429, headers={"Retry-After": "0"})))
        ),
        Case("dropped connections", first_n(4, const(Reply(drop=True)))),
        Case("truncated bodies", first_n(4, lambda r: Reply(article_reply(), truncate=40))),
        Case("timeouts", first_n(2, lambda r: Reply(article_reply(), delay=3.5))),
        Case("garbage answers", on_some(garbage)),
        Case("garbage answers, article", on_some(garbage), strategy="article"),
        Case("empty objects", on_some(const(Reply({})))),
        Case("empty objects, article", on_some(const(Reply({}))), strategy="article"),
        Case(
            "blank overview",
            on_some(const(Reply({"title": None, "lang": "en", "dateline": None, "summary": ""}))),
        ),
        Case(
            "cut at max_tokens", on_some(const(Reply('{"title": 1, "sum', finish_reason="length")))
        ),
        Case("200 not a completion", on_some(const(Reply(body=b'{"error": "quota"}')))),
        Case(
            "200 HTML page",
            on_some(const(Reply(body=b"<html>502</html>", content_type="text/html"))),
        ),
        Case("401 echoing the key", on_some(echo_key)),
        Case("403", on_some(const(Reply(status=403, body=b'{"error": "no"}')))),
        Case("404", on_some(const(Reply(status=404, body=b'{"error": "no"}')))),
        Case("400", on_some(const(Reply(status=400, body=b'{"error": "too long"}')))),
        Case("key in the answer", key_in_answer),
        Case("key in the answer, article", key_in_answer, strategy="article"),
        Case(
            "1 MB summary",
            on_some(const(Reply(article_reply(summary="Long. " * 200_000)))),
            strategy="article",
        ),
        Case("all down", const(Reply(status=503, body=b'{"error": "down"}'))),
    ]
    kills = 2 if quick else 6
    cases += [
        Case(f"SIGKILL after {n} lines", kill_after=n, args=("-c", "2"))
        for n in range(1, kills + 1)
    ]
    cases += [
        Case("two runs, one --out", concurrent=True),
        Case("two runs, one --out, article", concurrent=True, strategy="article"),
    ]
    if quick:  # a third of the faults, and every kill and concurrent case
        return [c for i, c in enumerate(cases) if i % 3 == 0 or c.kill_after or c.concurrent]
    return cases


@dataclass
class Tally:
    cases: int = 0
    lost: int = 0
    duplicated: int = 0
    empty: int = 0
    secret_bytes: int = 0
    notes: list[str] = field(default_factory=list)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in (*ENV_VARS.values(), CONFIG_ENV)}


def _config(path: Path, stub: StubServer, strategy: str) -> Path:
    values = {
        "base_url": stub.base_url,
        "model": "stub-model",
        "api_key": KEY,
        "mode": "json_schema",
        "strategy": strategy,
        "max_attempts": 3,
        "max_retry_time": 5,
        "timeout": 3,
    }
    path.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items()))
    return path


def _lines(out: Path) -> list[dict[str, Any]]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def run_case(case: Case, root: Path, tally: Tally) -> None:
    folder = root / re.sub(r"\W+", "-", case.name)
    corpus = folder / "in"
    corpus.mkdir(parents=True)
    for n in range(GOOD):
        (corpus / f"s{n:02d}.txt").write_text(story(n))
    good = {f"s{n:02d}" for n in range(GOOD)}
    if case.inputs is not None:
        case.inputs(corpus)
        good |= GOOD_EXTRA
    out = folder / "out" / "results.jsonl"
    with StubServer() as stub:
        config = _config(folder / "settings.toml", stub, case.strategy)
        command = [
            str(SUMMARIZER), "run", str(corpus), "--out", str(out), "--config", str(config),
            "--cache-dir", str(folder / "cache"), "--max-reasks", "1", "-q", *case.args,
        ]  # fmt: skip
        stub.default = case.fault
        if case.kill_after is not None:
            stub.default = lambda request: Reply(healthy(request).content, delay=0.2)
            _killed_run(command, out, case.kill_after)
        elif case.concurrent:
            stub.default = lambda request: Reply(healthy(request).content, delay=0.3)
            _concurrent_runs(command, case, tally)
        else:
            _run(command, case, tally)
        stub.default = healthy
        for _ in range(3):  # bad inputs stay bad (exit 1): three tries at most
            if _run(command, case, tally) == 0:
                break
    lines = _lines(out)
    ids = Counter(r["summary"]["id"] for r in lines)
    lost = good - set(ids)
    duplicated = sum(n - 1 for n in ids.values())
    empty = sum(1 for r in lines if _empty(r))  # lines are never removed: every run's count
    secret = KEY.encode()
    secret_bytes = sum(
        path.read_bytes().count(secret) * len(secret)
        for path in folder.rglob("*")
        if path.is_file() and corpus not in path.parents and path.suffix != ".toml"
    )
    tally.cases += 1
    tally.lost += len(lost)
    tally.duplicated += duplicated
    tally.empty += empty
    tally.secret_bytes += secret_bytes
    if lost:
        tally.notes.append(f"{case.name}: lost {sorted(lost)}")
    counts = f"lost {len(lost)}, duplicated {duplicated}, empty {empty}, secret {secret_bytes}"
    print(f"{case.name}: {counts}", file=sys.stderr)


def _run(command: list[str], case: Case, tally: Tally) -> int | None:
    """The command's exit code, or None (noted) if it hung."""
    try:
        done = subprocess.run(command, capture_output=True, env=_env(), timeout=HANG, check=False)
    except subprocess.TimeoutExpired:
        tally.notes.append(f"{case.name}: the run hung for {HANG} s and was killed")
        return None
    return done.returncode


def _empty(record: dict[str, Any]) -> bool:
    summary = record["summary"]
    items = summary.get("meetings") or summary.get("agreements") or summary.get("disputes")
    return not (summary.get("summary") or "").strip() and not items


def _killed_run(command: list[str], out: Path, after: int) -> None:
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env()
    )
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        if len(_lines_raw(out)) >= after:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    process.wait(timeout=60)


def _lines_raw(out: Path) -> list[bytes]:
    return out.read_bytes().splitlines() if out.exists() else []


def _concurrent_runs(command: list[str], case: Case, tally: Tally) -> None:
    """Both started at once: one must write, the other be refused."""
    runs = [
        subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env())
        for _ in range(2)
    ]
    errors = [run.communicate(timeout=600)[1] for run in runs]
    outcomes = [(run.returncode, err) for run, err in zip(runs, errors, strict=True)]
    refused = [err for code, err in outcomes if code == 2 and b"another summarizer run" in err]
    if len(refused) != 1:
        codes = [code for code, _ in outcomes]
        tally.notes.append(f"{case.name}: not exactly one run refused (exit codes {codes})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a third of the cases")
    options = parser.parse_args()
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="faults-") as tmp:
        for case in catalogue(options.quick):
            run_case(case, Path(tmp), tally)
    rows = [
        ("cases tried", tally.cases),
        ("articles lost", tally.lost),
        ("articles duplicated", tally.duplicated),
        ("silently empty", tally.empty),
        ("bytes of secret on disk", tally.secret_bytes),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"| {'fault catalogue'.ljust(width)} | count |")
    print(f"|{'-' * (width + 2)}|------:|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value:>5} |")
    for note in tally.notes:
        print(f"note: {note}")
    sys.exit(1 if any(value for _, value in rows[1:]) or tally.notes else 0)


if __name__ == "__main__":
    main()
