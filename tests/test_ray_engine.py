"""`summarizer run --engine ray`: the same results as the local engine, resumable, and a
per-endpoint rate limit shared by every worker. Each test starts (and stops) its own local
Ray, as the command does without --ray-address.

The endpoint is a scripted server on 127.0.0.1 playing a deterministic model for the default
"sentences" strategy (`support.scripted_model`), so the seeds exercise every kind of request
the pipeline makes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from summarizer.ray_engine import StartTimes
from tests.conftest import SEEDS, article_reply
from tests.stub_server import Reply, StubServer
from tests.support import (
    invoke,
    output_ids,
    results_by_id,
    scripted_model,
    write_config,
    write_stories,
)

pytest.importorskip("ray")


def test_ray_gives_the_same_results_as_the_local_engine_on_the_seeds(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = scripted_model
    config = write_config(tmp_path / "settings.toml", stub, strategy="sentences")
    local, ray = tmp_path / "local" / "results.jsonl", tmp_path / "ray" / "results.jsonl"
    first = invoke(config, str(SEEDS), "--out", str(local), "--no-cache", "-q")
    assert first.exit_code == 0, first.output
    asked = len(stub.requests)
    second = invoke(config, str(SEEDS), "--out", str(ray), "--no-cache", "-q", "--engine", "ray")
    assert second.exit_code == 0, second.output
    assert len(stub.requests) == 2 * asked  # the same requests again: nothing cached, none lost

    by_local, by_ray = results_by_id(local), results_by_id(ray)
    assert sorted(by_ray) == sorted(by_local) == sorted(p.stem for p in SEEDS.glob("*.txt"))
    assert {i: r.summary for i, r in by_ray.items()} == {i: r.summary for i, r in by_local.items()}
    assert sum(len(r.summary.meetings) + len(r.summary.agreements) for r in by_ray.values())
    assert not (ray.parent / "ray.errors.jsonl").exists()


def test_a_ray_run_resumes_and_records_failures_like_a_local_one(
    stub: StubServer, tmp_path: Path
) -> None:
    """Finished ids are skipped on rerun; a failing article goes to errors.jsonl."""
    rejected = Reply(status=400, body=b'{"error": {"message": "rejected"}}')
    stub.default = lambda request: (
        rejected if "Story number 3." in json.dumps(request) else Reply(article_reply())
    )
    config = write_config(tmp_path / "settings.toml", stub)
    corpus = tmp_path / "corpus"
    write_stories(corpus, 3)
    out = tmp_path / "results.jsonl"
    done = invoke(config, str(corpus), "--out", str(out), "--engine", "ray", "-q")
    assert done.exit_code == 0, done.output
    asked = len(stub.requests)

    write_stories(corpus, 2, first=3)  # two more articles, one of which is rejected
    again = invoke(config, str(corpus), "--out", str(out), "--engine", "ray", "-c", "2", "-q")
    assert again.exit_code == 1, again.output
    assert len(stub.requests) == asked + 2  # the three finished ones were not asked again
    assert sorted(output_ids(out)) == ["s00", "s01", "s02", "s04"]
    [error] = [
        json.loads(line) for line in (tmp_path / "results.errors.jsonl").read_text().splitlines()
    ]
    assert (error["id"], error["kind"]) == ("s03", "endpoint")


def test_the_shared_rate_limit_spaces_request_starts_per_endpoint() -> None:
    """The actor's arithmetic: starts 60/rpm apart per endpoint, endpoints independent."""
    limit = StartTimes(rpm=600)  # one start every 0.1 s per endpoint

    def wait(url: str) -> float:
        return limit.reserve(url) - time.time()

    waits = [wait("a") for _ in range(4)]
    assert waits[0] == pytest.approx(0, abs=0.01)
    assert waits[3] == pytest.approx(0.3, abs=0.02)
    assert wait("b") == pytest.approx(0, abs=0.01)
    time.sleep(0.5)  # idle time is not saved up as a burst
    assert wait("a") == pytest.approx(0, abs=0.01)
    assert wait("a") == pytest.approx(0.1, abs=0.02)


def test_a_ray_run_keeps_to_rpm_per_endpoint_across_workers(
    stub: StubServer, tmp_path: Path
) -> None:
    starts: list[float] = []

    def timed(request: dict[str, Any]) -> Reply:
        starts.append(time.monotonic())
        return Reply(article_reply())

    stub.default = timed
    config = write_config(tmp_path / "settings.toml", stub)
    write_stories(tmp_path / "corpus", 8)
    run = invoke(
        config,
        str(tmp_path / "corpus"),
        "--out",
        str(tmp_path / "out.jsonl"),
        "--engine",
        "ray",
        "--rpm",
        "300",  # 0.2 s apart
        "-q",
    )
    assert run.exit_code == 0, run.output
    # Slots 0.2 s apart: eight starts span 1.4 s (unlimited, they would come at once). A
    # worker busy when its slot comes sends late, so the bound leaves room for that.
    assert len(starts) == 8
    assert max(starts) - min(starts) > 1.0
