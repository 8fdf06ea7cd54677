"""Several endpoints as one pool: load spreading, fail-over, cool-down, cache identity.

Every endpoint is a real scripted server on 127.0.0.1 (tests/stub_server.py); a dead one is
a stopped server, whose port refuses connections.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from summarizer.cli import app
from summarizer.config import Config
from summarizer.endpoints import pool_id
from summarizer.errors import EndpointError
from summarizer.llm import EndpointDown
from summarizer.pipeline import Summarizer
from tests.conftest import article_reply
from tests.stub_server import Reply, StubServer
from tests.support import output_ids, story, write_config, write_stories


def answering(delay: float = 0.0) -> StubServer:
    return StubServer(default=lambda request: Reply(article_reply(), delay=delay))


@pytest.fixture
def a() -> Iterator[StubServer]:
    with answering() as server:
        yield server


@pytest.fixture
def b() -> Iterator[StubServer]:
    with answering() as server:
        yield server


def pool_config(tmp_path: Path, *servers: StubServer, **changes: object) -> Config:
    values: dict[str, object] = {
        "base_url": [s.base_url for s in servers],
        "model": "stub-model",
        "mode": "json_schema",
        "strategy": "article",
        "cache_dir": tmp_path / "cache",
        "max_attempts": 3,
        "max_retry_time": 20,
        "timeout": 5,
        "endpoint_cooldown": 30,
        **changes,
    }
    return Config.model_validate(values)


def run_cli(tmp_path: Path, config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, ["run", *args, "--config", str(config), "--cache-dir", str(tmp_path / "cache")]
    )
    return result.exit_code, result.output


def test_base_urls_come_as_a_list_a_repeated_option_or_a_comma_separated_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Config(base_url="http://h:1/v1").base_url == ("http://h:1/v1",)
    assert Config(base_url=["http://h:1/v1", "http://h:2/v1"]).base_url == (
        "http://h:1/v1",
        "http://h:2/v1",
    )
    monkeypatch.setenv("SUMMARIZER_BASE_URL", " http://h:1/v1, http://h:2/v1 ,http://h:1/v1")
    assert Config.load().base_url == (
        "http://h:1/v1",
        "http://h:2/v1",
    )
    assert Config(base_url=[]).embedded


def test_the_pool_identity_is_the_model_and_the_sorted_urls() -> None:
    one = Config(base_url="https://api.example.com/v1/", model="m")
    assert pool_id(one) == "m@https://api.example.com/v1"  # a single endpoint: as it always was
    ab = Config(base_url=["http://b:2/v1", "http://a:1/v1/"], model="m")
    ba = Config(base_url=["http://a:1/v1", "http://b:2/v1"], model="m")
    assert pool_id(ab) == pool_id(ba) == "m@http://a:1/v1,http://b:2/v1"


def test_requests_go_to_the_least_busy_endpoint(tmp_path: Path) -> None:
    """A slow endpoint holds its requests longer, so the fast one is given more of them."""
    with answering(delay=0.6) as slow, answering() as fast:
        config = write_config(tmp_path / "s.toml", slow, base_url=[slow.base_url, fast.base_url])
        write_stories(tmp_path / "in", 10)
        code, output = run_cli(
            tmp_path, config, str(tmp_path / "in"), "--out", str(tmp_path / "out.jsonl"), "-c", "2"
        )
        assert code == 0, output
        assert len(output_ids(tmp_path / "out.jsonl")) == 10
        assert 1 <= len(slow.requests) <= 3
        assert len(slow.requests) + len(fast.requests) == 10


def test_equal_endpoints_share_the_work(tmp_path: Path) -> None:
    with answering(delay=0.2) as one, answering(delay=0.2) as two:
        config = write_config(tmp_path / "s.toml", one, base_url=[one.base_url, two.base_url])
        write_stories(tmp_path / "in", 12)
        code, output = run_cli(
            tmp_path, config, str(tmp_path / "in"), "--out", str(tmp_path / "out.jsonl"), "-c", "4"
        )
        assert code == 0, output
        assert len(one.requests) >= 4 and len(two.requests) >= 4
        assert len(one.requests) + len(two.requests) == 12


def test_a_refusing_endpoint_is_skipped_at_once_and_tried_again_after_its_cool_down(
    a: StubServer, b: StubServer, tmp_path: Path
) -> None:
    b.stop()
    config = pool_config(tmp_path, b, a, endpoint_cooldown=1.0, max_attempts=5)
    with Summarizer(config) as s:
        started = time.monotonic()
        for n in range(4):
            s.summarize(story(n))
        assert time.monotonic() - started < 3  # no backoff on a refused port while A answers
        assert len(a.requests) == 4
        b.start()
        time.sleep(1.2)
        for n in range(4, 8):
            s.summarize(story(n))
    assert b.requests  # back in rotation after the cool-down
    assert len(a.requests) + len(b.requests) == 8


def test_an_endpoint_failing_after_its_retries_is_taken_out_of_rotation(
    a: StubServer, b: StubServer, tmp_path: Path
) -> None:
    b.default = lambda request: Reply(status=503, body=b'{"error": {"message": "overloaded"}}')
    config = pool_config(tmp_path, b, a, max_attempts=2)
    with Summarizer(config) as s:
        for n in range(5):
            result = s.summarize(story(n))
            assert result.summary.meetings
    assert len(b.requests) == 2  # one request's two attempts; then it sat out
    assert len(a.requests) == 5
    assert result.run.endpoint == pool_id(config)


def test_an_article_fails_only_when_every_endpoint_is_down(
    a: StubServer, b: StubServer, tmp_path: Path
) -> None:
    a.stop()
    b.stop()
    config = pool_config(tmp_path, a, b)
    with Summarizer(config) as s:
        with pytest.raises(EndpointDown) as info:
            s.summarize(story(0))
        assert "all 2 endpoints are down" in info.value.reason
        assert a.base_url in info.value.reason and b.base_url in info.value.reason
        a.start()  # both are cooling down: the next request still probes one, and finds A back
        assert s.summarize(story(1)).summary.meetings


def test_a_request_the_endpoint_rejects_is_not_sent_to_the_others(
    a: StubServer, b: StubServer, tmp_path: Path
) -> None:
    a.default = lambda request: Reply(status=400, body=b'{"error": {"message": "too long"}}')
    with Summarizer(pool_config(tmp_path, a, b)) as s, pytest.raises(EndpointError) as info:
        s.summarize(story(0))
    assert not isinstance(info.value, EndpointDown)
    assert "HTTP 400" in info.value.reason
    assert (len(a.requests), len(b.requests)) == (1, 0)


def test_the_cache_does_not_care_which_endpoint_answered(
    a: StubServer, b: StubServer, tmp_path: Path
) -> None:
    with Summarizer(pool_config(tmp_path, a, b)) as s:
        first = s.summarize(story(0))
    a.stop()
    b.stop()
    with Summarizer(pool_config(tmp_path, b, a)) as s:  # same pool, other order, all down
        again = s.summarize(story(0))
    assert again.run.cache_hit
    assert again.summary == first.summary
