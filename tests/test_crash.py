"""Crash safety of the cache and of concurrent runs.

test_batch already kills a run (SIGINT, SIGTERM, SIGKILL) mid-batch and reruns it (no
finished article lost or written twice) and cuts a partial last line. Here: a cache
directory that is corrupt, damaged while in use or locked by another process never crashes
a run, and two batch processes sharing one cache directory both finish correctly.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import diskcache
import pytest

from summarizer import Summarizer, cache
from summarizer.config import CONFIG_ENV, ENV_VARS, Config
from summarizer.schema import Result
from tests.conftest import ARTICLE, article_reply
from tests.stub_server import Reply, StubServer
from tests.support import (
    SUMMARIZER,
    cli_args,
    invoke,
    output_ids,
    story,
    write_config,
    write_stories,
)


def db_of(cache_dir: Path) -> Path:
    return cache_dir / "responses" / diskcache.core.DBNAME


def results(out: Path) -> list[Result]:
    return [Result.model_validate_json(line) for line in out.read_text().splitlines()]


@pytest.fixture
def quick_locks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give up on a locked cache after 0.2 s instead of 2 s (in this process)."""
    monkeypatch.setattr(cache, "LOCK_WAIT", 0.2)


@pytest.fixture
def config(stub: StubServer, tmp_path: Path) -> Path:
    stub.default = lambda request: Reply(article_reply())
    return write_config(tmp_path / "settings.toml", stub)


def test_garbage_over_cache_db_is_moved_aside_and_rebuilt(
    stub: StubServer, config: Path, tmp_path: Path
) -> None:
    ids = write_stories(tmp_path / "in", 3)
    out = tmp_path / "results.jsonl"
    assert invoke(config, str(tmp_path / "in"), "--out", str(out)).exit_code == 0
    cache_dir = tmp_path / "cache"
    db = db_of(cache_dir)
    db.write_bytes(b"this is not an SQLite database " * 500)
    for sidecar in db.parent.glob(f"{db.name}-*"):  # -wal, -shm
        sidecar.unlink()

    out.unlink()
    result = invoke(config, str(tmp_path / "in"), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert sorted(output_ids(out)) == ids
    [aside] = cache_dir.glob("responses.corrupt-*")
    assert (aside / db.name).read_bytes().startswith(b"this is not an SQLite database")
    for r in results(out):  # reported with every result of the run
        assert any("was corrupt (file is not a database); moved to" in w for w in r.run.warnings)
    assert len(stub.requests) == 6  # the old answers were lost with the corrupt file...

    out.unlink()
    assert invoke(config, str(tmp_path / "in"), "--out", str(out)).exit_code == 0
    assert len(stub.requests) == 6  # ...but the rebuilt cache serves the rerun
    assert all(r.run.cache_hit and not r.run.warnings for r in results(out))


def test_cache_damaged_while_in_use_is_rebuilt_mid_run(
    stub: StubServer, stub_config: Config
) -> None:
    """Pages of an open cache overwritten under it: the next read finds the damage, the
    cache is moved aside and rebuilt, and the run goes on."""
    stub.default = lambda request: Reply(article_reply())
    with Summarizer(stub_config) as s:
        for n in range(60):  # enough entries for a database of many pages
            s.summarize(story(n))
        db = db_of(stub_config.cache_dir)
        with sqlite3.connect(db) as con:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = db.stat().st_size
        assert size > 8 * 4096
        with db.open("r+b") as file:  # keep the header and schema, wreck the rest
            file.seek(2 * 4096)
            file.write(b"\xde\xad\xbe\xef" * ((size - 3 * 4096) // 4))
        again = s.summarize(story(0))  # was cached: now the read hits the damage
        fresh = s.summarize(story(99))
    assert not again.run.cache_hit and not fresh.run.cache_hit
    assert any("was corrupt" in w for w in fresh.run.warnings)
    assert len(list(stub_config.cache_dir.glob("responses.corrupt-*"))) == 1
    with Summarizer(stub_config) as s:  # the rebuilt cache holds what was asked since
        assert s.summarize(story(99)).run.cache_hit


def test_a_damaged_entry_is_a_miss_not_a_crash(stub: StubServer, stub_config: Config) -> None:
    stub.push(Reply(article_reply()), Reply(article_reply()))
    with Summarizer(stub_config) as s:
        s.summarize(ARTICLE)
    with sqlite3.connect(db_of(stub_config.cache_dir)) as con:
        # Both entries (the answer and the finished result) become a cut pickle.
        assert con.execute("UPDATE Cache SET value = x'80059501'").rowcount == 2
    with Summarizer(stub_config) as s:
        result = s.summarize(ARTICLE)
    assert not result.run.cache_hit and len(result.summary.meetings) == 1
    assert any("cache read failed (UnpicklingError" in w for w in result.run.warnings)
    with Summarizer(stub_config) as s:
        assert s.summarize(ARTICLE).run.cache_hit  # the fresh answer replaced it
    assert len(stub.requests) == 2


def test_a_cached_value_of_the_wrong_shape_is_a_miss(stub: StubServer, stub_config: Config) -> None:
    stub.push(Reply(article_reply()), Reply(article_reply()))
    with Summarizer(stub_config) as s:
        s.summarize(ARTICLE)
    store = diskcache.Cache(str(stub_config.cache_dir / "responses"))
    for key in list(store):
        store[key] = {"value": {"meetings": "not a list"}}
    store.close()
    with Summarizer(stub_config) as s:
        assert not s.summarize(ARTICLE).run.cache_hit


HOLDER = """
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
if sys.argv[2] == "all":
    con.execute("PRAGMA locking_mode=EXCLUSIVE")  # readers are shut out too
con.execute("BEGIN EXCLUSIVE")
if sys.argv[2] == "all":
    con.execute("INSERT INTO Settings VALUES ('held', 1)")
print("locked", flush=True)
time.sleep(30)
"""


@pytest.fixture
def lock_holder(tmp_path: Path) -> Iterator[Any]:
    """Start another process that holds the cache database locked until the test ends."""
    processes: list[subprocess.Popen[str]] = []

    def hold(db: Path, mode: str) -> None:
        process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(db), mode], stdout=subprocess.PIPE, text=True
        )
        processes.append(process)
        assert process.stdout is not None and process.stdout.readline() == "locked\n"

    yield hold
    for process in processes:
        process.kill()
        process.wait(timeout=10)


@pytest.mark.parametrize("mode", ["writes", "all"])
def test_a_cache_locked_by_another_process_does_not_stop_the_run(
    stub: StubServer, config: Path, tmp_path: Path, lock_holder: Any, mode: str
) -> None:
    """Another process holds the cache's database (write lock, or every lock): the real
    command runs uncached after a bounded wait, says so in each result, and finishes."""
    ids = write_stories(tmp_path / "in", 3)
    out = tmp_path / "results.jsonl"
    assert invoke(config, str(tmp_path / "in"), "--out", str(out)).exit_code == 0
    lock_holder(db_of(tmp_path / "cache"), mode)
    out.unlink()
    env = {k: v for k, v in os.environ.items() if k not in (*ENV_VARS.values(), CONFIG_ENV)}
    began = time.monotonic()
    done = subprocess.run(
        [str(SUMMARIZER), *cli_args(config, str(tmp_path / "in"), "--out", str(out))],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert time.monotonic() - began < 20  # waited LOCK_WAIT once, not a minute per article
    assert sorted(output_ids(out)) == ids
    for r in results(out):
        assert any("is locked" in w and "running uncached" in w for w in r.run.warnings)
    assert len(stub.requests) == 6  # asked again: the cache could not be read


def test_a_lock_taken_mid_run_is_survived(
    stub: StubServer, stub_config: Config, quick_locks: None
) -> None:
    """The cache opens fine, then another connection takes the write lock and keeps it:
    writes are skipped, after a few the run stops writing (reads still serve what is
    cached), and every article is summarised."""
    stub.default = lambda request: Reply(article_reply())
    with Summarizer(stub_config) as s:
        s.summarize(story(0))
        holder = sqlite3.connect(db_of(stub_config.cache_dir), isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            began = time.monotonic()
            later = [s.summarize(story(n)) for n in range(1, 6)]
            elapsed = time.monotonic() - began
            cached = s.summarize(story(0))
        finally:
            holder.close()
    assert elapsed < 3  # three 0.2 s waits, then no more
    assert [len(r.summary.meetings) for r in later] == [1] * 5
    assert any("stayed locked" in w and "no longer writing" in w for w in later[-1].run.warnings)
    assert cached.run.cache_hit  # reading still works under a write lock
    assert len(stub.requests) == 6


def test_two_batches_sharing_one_cache_both_finish(
    stub: StubServer, config: Path, tmp_path: Path
) -> None:
    """Two `summarizer run` processes at once over the same articles, one cache directory,
    separate outputs: both complete, every line whole and each id once; the shared cache
    then answers a third run alone."""
    stub.default = lambda request: Reply(article_reply(), delay=0.05)
    ids = write_stories(tmp_path / "in", 8)
    env = {k: v for k, v in os.environ.items() if k not in (*ENV_VARS.values(), CONFIG_ENV)}
    outs = [tmp_path / f"out{n}" / "results.jsonl" for n in (1, 2)]
    processes = [
        subprocess.Popen(
            [str(SUMMARIZER), *cli_args(config, str(tmp_path / "in"), "--out", str(out))],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for out in outs
    ]
    try:
        finished = [p.communicate(timeout=60) for p in processes]
    finally:
        for p in processes:
            p.kill()
    for process, (_, stderr) in zip(processes, finished, strict=True):
        assert process.returncode == 0, stderr.decode()
        assert b"Traceback" not in stderr
    for out in outs:
        written = output_ids(out)  # every line parses as a whole Result
        assert sorted(written) == ids and len(written) == len(set(written))
        assert not (out.parent / "results.errors.jsonl").exists()
    assert 8 <= len(stub.requests) <= 16  # each article asked by one process or both

    third = tmp_path / "out3" / "results.jsonl"
    assert invoke(config, str(tmp_path / "in"), "--out", str(third)).exit_code == 0
    assert all(r.run.cache_hit for r in results(third))
    assert len(stub.requests) <= 16  # nothing new was asked


def test_a_cache_path_that_cannot_be_a_directory_runs_uncached(
    stub: StubServer, tmp_path: Path
) -> None:
    """A cache path that can never be a directory (a file stands there) runs uncached."""
    stub.push(Reply(article_reply()))
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file, not a folder")
    config = Config(
        base_url=stub.base_url,
        model="stub-model",
        mode="json_schema",
        strategy="article",
        cache_dir=blocker,
        max_attempts=1,
    )
    with Summarizer(config) as s:
        result = s.summarize(ARTICLE)
    assert len(result.summary.meetings) == 1
    assert any("unusable" in w and "running uncached" in w for w in result.run.warnings)
