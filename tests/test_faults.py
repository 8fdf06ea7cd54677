"""Network faults and run limits, against the loopback OpenAI-protocol server.

test_pipeline covers one 429 with Retry-After, 5xx until attempts run out, one dropped
connection and a salvageable max_tokens cut in the library; test_batch covers --max-cost
and an endpoint that keeps failing. Here: every fault in one batch (timeouts, drops, 429
storms with and without Retry-After, 5xx, truncated and non-JSON bodies, max_tokens cuts)
with a rerun that only asks what failed, an endpoint that dies mid-batch and comes back,
and the limits on article size, context, output tokens and spend.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from summarizer import EndpointError, ExtractionError, InputError, Summarizer
from summarizer.config import Config
from summarizer.schema import Result
from tests.conftest import ARTICLE, article_reply
from tests.stub_server import Reply, StubServer
from tests.support import (
    error_lines,
    invoke,
    output_ids,
    write_config,
    write_stories,
)

STORY = re.compile(r"Story number (\d+)\.")


def story_of(request: dict[str, Any]) -> int:
    match = STORY.search(request["messages"][-1]["content"])
    assert match, "every request here is about a numbered story"
    return int(match.group(1))


def scripted(per_story: dict[int, list[Reply]], then: Reply | None = None) -> Any:
    """A stub default: each story takes its own scripted replies in turn, then `then`
    (a valid answer by default); the last scripted reply repeats when `then` is None."""
    queues = {n: list(replies) for n, replies in per_story.items()}
    lock = threading.Lock()

    def reply(request: dict[str, Any]) -> Reply:
        with lock:
            queue = queues.get(story_of(request), [])
            if queue:
                return queue.pop(0) if len(queue) > 1 or then is not None else queue[0]
        return then or Reply(article_reply())

    return reply


def per_story(stub: StubServer) -> Counter[int]:
    return Counter(story_of(r) for r in stub.requests)


def cut_reply() -> str:
    full = json.dumps(article_reply())
    return full[: full.index('"disputes"') + 30]  # mid-way through the disputes list


ERROR_BODY = b'{"error": {"message": "try later"}}'


def test_every_fault_is_retried_or_reported_and_a_rerun_asks_only_the_rest(
    stub: StubServer, tmp_path: Path
) -> None:
    ok = Reply(article_reply())
    stub.default = scripted(
        {
            0: [Reply(article_reply(), delay=2.5), ok],  # slower than the 1 s timeout
            1: [Reply(drop=True), ok],  # connection closed without an answer
            2: [Reply(status=429, headers={"Retry-After": "0"}, body=ERROR_BODY)] * 2 + [ok],
            3: [Reply(status=503, body=ERROR_BODY), Reply(status=502, body=ERROR_BODY), ok],
            4: [Reply(article_reply(), truncate=80), ok],  # half a body, then the socket closes
            5: [Reply(cut_reply(), finish_reason="length")],  # cut by max_tokens: salvaged
            # Faults that outlast every retry:
            6: [Reply(status=500, body=b'{"error": {"message": "model crashed"}}')],
            7: [Reply(status=429, body=ERROR_BODY)],  # a storm without Retry-After
            8: [Reply(body=b"<html><h1>502 Bad Gateway</h1></html>", content_type="text/html")],
            9: [Reply(article_reply(), delay=2.5)],  # never in time
        },
        then=None,
    )
    config = write_config(
        tmp_path / "settings.toml", stub, max_attempts=3, max_retry_time=10, timeout=1
    )
    ids = write_stories(tmp_path / "in", 10)
    out = tmp_path / "results.jsonl"
    args = ("--out", str(out), "--concurrency", "4", "--max-reasks", "0")
    began = time.monotonic()
    result = invoke(config, str(tmp_path / "in"), *args)
    assert result.exit_code == 1, result.output
    assert time.monotonic() - began < 45  # bounded: attempts and retry time cap every fault
    assert sorted(output_ids(out)) == ["s00", "s01", "s02", "s03", "s04", "s05"]
    asked = per_story(stub)
    assert [asked[n] for n in range(6)] == [2, 2, 3, 3, 2, 1]  # the retries, exactly
    assert asked[6] == asked[7] == asked[9] == 3  # every attempt, then given up
    cut = next(Result.model_validate_json(x) for x in out.read_text().splitlines() if "s05" in x)
    assert len(cut.summary.meetings) == 1 and cut.summary.disputes == []
    assert any("cut off at max_tokens" in w for w in cut.run.warnings)

    errors = {e["id"]: e for e in error_lines(tmp_path / "results.errors.jsonl")}
    assert set(errors) == {"s06", "s07", "s08", "s09"}
    assert errors["s06"]["kind"] == "endpoint" and "HTTP 500" in errors["s06"]["reason"]
    assert "model crashed" in errors["s06"]["raw"]  # the server's own words are kept
    assert errors["s07"]["kind"] == "endpoint" and "HTTP 429" in errors["s07"]["reason"]
    assert errors["s09"]["kind"] == "endpoint" and "timed out" in errors["s09"]["reason"]
    assert errors["s08"]["kind"] in {"endpoint", "extraction"}  # see the strict test below
    assert all("\n" not in e["reason"] for e in errors.values())
    assert "6 articles summarised" in result.stderr and "4 failed" in result.stderr

    before = len(stub.requests)
    stub.default = lambda request: Reply(article_reply())  # the endpoint recovered
    again = invoke(config, str(tmp_path / "in"), *args)
    assert again.exit_code == 0, again.output
    assert sorted(output_ids(out)) == ids and len(output_ids(out)) == len(ids)
    assert sorted(story_of(r) for r in stub.requests[before:]) == [6, 7, 8, 9]  # nothing redone
    assert "6 already done" in again.stderr


def test_a_non_json_200_body_is_an_endpoint_fault(stub: StubServer, stub_config: Config) -> None:
    stub.push(*[Reply(body=b"<html>502 Bad Gateway</html>", content_type="text/html")] * 9)
    with Summarizer(stub_config) as s, pytest.raises(EndpointError) as info:
        s.summarize(ARTICLE)
    assert "502 Bad Gateway" in info.value.reason + (info.value.raw or "")
    assert len(stub.requests) == stub_config.max_attempts


def test_an_answer_cut_off_before_anything_useful_is_a_failure(
    stub: StubServer, stub_config: Config
) -> None:
    stub.push(Reply('{"title": 1, "datel', finish_reason="length"))
    with Summarizer(stub_config) as s, pytest.raises(ExtractionError, match="cut off"):
        s.summarize(ARTICLE)


def test_endpoint_dies_mid_batch_and_a_rerun_after_it_returns_finishes(
    stub: StubServer, tmp_path: Path
) -> None:
    """Three answers, then the server goes away (the fourth request is cut off and the port
    refuses connections): the batch reports the rest and ends; once the endpoint is back,
    the same command finishes only what is missing."""
    answered = [0]

    def until_death(request: dict[str, Any]) -> Reply:
        answered[0] += 1
        return Reply(article_reply()) if answered[0] <= 3 else Reply(stop_server=True)

    stub.default = until_death
    config = write_config(tmp_path / "settings.toml", stub, max_attempts=2, max_retry_time=3)
    ids = write_stories(tmp_path / "in", 7)
    out = tmp_path / "results.jsonl"
    args = ("--out", str(out), "--concurrency", "1")
    result = invoke(config, str(tmp_path / "in"), *args)
    assert result.exit_code == 1, result.output
    assert not stub.running
    assert output_ids(out) == ["s00", "s01", "s02"]
    errors = error_lines(tmp_path / "results.errors.jsonl")
    assert [e["id"] for e in errors] == ["s03", "s04", "s05", "s06"]
    assert {(e["kind"], e["reason"].split(": ")[-1]) for e in errors} == {
        ("endpoint", "connection failed")
    }
    assert len(stub.requests) == 4  # the rest never reached it

    stub.default = lambda request: Reply(article_reply())
    stub.start()  # back, on the same port
    again = invoke(config, str(tmp_path / "in"), *args)
    assert again.exit_code == 0, again.output
    written = output_ids(out)
    assert sorted(written) == ids and len(written) == len(set(written))
    assert [story_of(r) for r in stub.requests[4:]] == [3, 4, 5, 6]  # finished work not redone


def test_a_short_outage_is_bridged_by_transport_retries(stub: StubServer, tmp_path: Path) -> None:
    """The endpoint drops out for half a second mid-batch: retries carry every article."""
    answered = [0]

    def blip(request: dict[str, Any]) -> Reply:
        answered[0] += 1
        if answered[0] == 2:
            threading.Timer(0.5, stub.start).start()  # comes back by itself
            return Reply(stop_server=True)
        return Reply(article_reply())

    stub.default = blip
    config = write_config(tmp_path / "settings.toml", stub, max_attempts=8, max_retry_time=15)
    ids = write_stories(tmp_path / "in", 4)
    out = tmp_path / "results.jsonl"
    result = invoke(config, str(tmp_path / "in"), "--out", str(out), "--concurrency", "1")
    assert result.exit_code == 0, result.output
    assert sorted(output_ids(out)) == ids
    assert not (tmp_path / "results.errors.jsonl").exists()


# -- limits -------------------------------------------------------------------------------


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting the embedded model fails the test at once: these tests must never run it."""

    def refuse(config: Config) -> None:
        raise AssertionError("the embedded model was about to start")

    monkeypatch.setattr("summarizer.embedded.get_server", refuse)


RUN_ON = "officials met in Caracas and talked about oil and gas " * 700  # one long sentence


def test_embedded_context_limit_is_named_before_the_model_starts(
    tmp_path: Path, no_model: None
) -> None:
    """Long articles are read in chunks of whole sentences; one sentence too long for the
    embedded model's context (--n-ctx) cannot be, so the article is rejected naming both
    numbers (never truncated), and no model is started to find that out."""
    config = Config(cache_dir=tmp_path / "cache", strategy="article")
    with Summarizer(config) as s, pytest.raises(InputError) as info:
        s.summarize(f"{RUN_ON}.")
    reason = info.value.reason
    assert "the embedded model's context is 8,192 tokens (raise --n-ctx)" in reason
    assert re.match(r"article needs about [\d,]+ tokens", reason)


def test_an_article_that_cannot_fit_is_rejected_before_anything_is_asked(
    tmp_path: Path, no_model: None
) -> None:
    config = Config(cache_dir=tmp_path / "cache", strategy="article")
    with Summarizer(config) as s, pytest.raises(InputError, match="raise --n-ctx"):
        s.summarize(f"Talks in Caracas\n\n{RUN_ON}.")


def test_max_output_tokens_caps_every_request(stub: StubServer, stub_config: Config) -> None:
    stub.push(Reply(article_reply()))
    with Summarizer(stub_config.model_copy(update={"max_output_tokens": 100})) as s:
        s.summarize(ARTICLE)
    assert stub.requests[0]["max_tokens"] <= 100


def test_max_cost_with_concurrency_keeps_in_flight_work_and_a_rerun_resumes(
    stub: StubServer, tmp_path: Path
) -> None:
    """test_batch covers the stop at concurrency 1; here the articles in flight when the cap
    is hit are still written (paid for, never lost), and a rerun with more budget does the
    rest without paying again for what is done."""
    stub.default = lambda request: Reply(article_reply(), delay=0.2)
    # 150 tokens an article at $1000 per million tokens: $0.15 each.
    config = write_config(tmp_path / "priced.toml", stub, price_per_mtok=[1000.0, 1000.0])
    ids = write_stories(tmp_path / "in", 8)
    out = tmp_path / "results.jsonl"
    args = ("--out", str(out), "--concurrency", "3")
    result = invoke(config, str(tmp_path / "in"), *args, "--max-cost", "0.25")
    assert result.exit_code == 1
    done = output_ids(out)
    assert 2 <= len(done) <= 4  # the cap, plus what was already in flight
    assert len(stub.requests) == len(done)  # every answer paid for was written
    assert f"{8 - len(done)} articles left. Rerun the same command to resume." in result.stderr

    again = invoke(config, str(tmp_path / "in"), *args, "--max-cost", "5")
    assert again.exit_code == 0, again.output
    assert sorted(output_ids(out)) == ids
    assert len(stub.requests) == 8  # each article paid for once


def test_retry_after_is_honoured_and_capped(stub: StubServer, stub_config: Config) -> None:
    """A 429's Retry-After sets the wait (2 s here, longer than any first backoff), and an
    absurd one (an hour) is capped by max_retry_time instead of hanging the run."""
    starts: list[float] = []

    def timed(reply: Reply) -> Any:
        def answer(request: dict[str, Any]) -> Reply:
            starts.append(time.monotonic())
            return reply

        return answer

    slow = Reply(status=429, headers={"Retry-After": "2"}, body=ERROR_BODY)
    stub.push(timed(slow), timed(Reply(article_reply())))
    with Summarizer(stub_config) as s:
        s.summarize(ARTICLE)
    assert starts[1] - starts[0] >= 1.9

    hour = Reply(status=429, headers={"Retry-After": "3600"}, body=ERROR_BODY)
    stub.push(*[hour] * 5)
    config = stub_config.model_copy(update={"max_retry_time": 1.0, "cache": "off"})
    began = time.monotonic()
    with Summarizer(config) as s, pytest.raises(EndpointError, match="HTTP 429"):
        s.summarize(ARTICLE)
    assert time.monotonic() - began < 5
