"""`summarizer batch submit|status|collect` against a loopback server that speaks the Files
and Batches endpoints of the OpenAI API (and fails every live chat request, so a test sees
when one is made).

The server "runs" a batch on the first status poll after `polls` in-progress answers: each
uploaded request is answered by `answer(body)`, a scripted `Reply` as in tests/stub_server.py
(status 200: an output line; otherwise an error-file line), or `expire` puts every request
in the error file as the API does for an expired batch.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from summarizer import batch_api
from summarizer.batch_api import Job, State, state_path
from summarizer.cli import app
from summarizer.config import Config
from summarizer.errors import EndpointError
from summarizer.schema import Result
from tests.conftest import article_reply
from tests.stub_server import Reply, StubServer, completion_body
from tests.support import (
    error_lines,
    invoke,
    output_ids,
    story,
    write_config,
    write_stories,
)


class BatchServer:
    """Files + Batches API on 127.0.0.1; chat completions always fail (and are counted)."""

    def __init__(self, answer: Callable[[dict[str, Any]], Reply]) -> None:
        self.answer = answer
        self.polls = 1  # in-progress answers before a batch completes
        self.expire = False
        self.files: dict[str, bytes] = {}
        self.uploads: list[bytes] = []  # input files, in upload order
        self.batches: dict[str, dict[str, Any]] = {}
        self.chat_requests = 0
        self._lock = threading.RLock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> BatchServer:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def uploaded(self, n: int = -1) -> list[dict[str, Any]]:
        """The request lines of the n-th uploaded input file (the last by default)."""
        return [json.loads(line) for line in self.uploads[n].splitlines()]

    def _file(self, content: bytes) -> dict[str, Any]:
        with self._lock:
            file_id = f"file-{len(self.files) + 1}"
            self.files[file_id] = content
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": "batch.jsonl",
            "purpose": "batch",
            "status": "processed",
        }

    def _run(self, batch: dict[str, Any]) -> None:
        """Answer every request of the batch into an output and an error file."""
        output, errors = [], []
        for n, line in enumerate(self.files[batch["input_file_id"]].splitlines()):
            request = json.loads(line)
            custom_id = request["custom_id"]
            if self.expire:
                error = {"code": "batch_expired", "message": "This request could not be run."}
                errors.append(
                    {"id": f"r{n}", "custom_id": custom_id, "response": None, "error": error}
                )
                continue
            reply = self.answer(request["body"])
            ok = reply.status == 200
            body = json.loads(
                completion_body(request["body"], reply) if ok else reply.body or b"{}"
            )
            response = {"status_code": reply.status, "request_id": f"q{n}", "body": body}
            (output if ok else errors).append(
                {"id": f"r{n}", "custom_id": custom_id, "response": response, "error": None}
            )
        for key, lines in (("output_file_id", output), ("error_file_id", errors)):
            if lines:
                content = "".join(json.dumps(x) + "\n" for x in lines).encode()
                batch[key] = self._file(content)["id"]
        batch["status"] = "expired" if self.expire else "completed"
        total = len(output) + len(errors)
        batch["request_counts"] = {"total": total, "completed": len(output), "failed": len(errors)}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, payload: Any, raw: bytes | None = None) -> None:
                body = raw if raw is not None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == "/v1/files":
                    message = BytesParser(policy=HTTP).parsebytes(
                        f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + data
                    )
                    parts = {
                        p.get_param("name", header="content-disposition"): p
                        for p in message.iter_parts()
                    }
                    assert parts["purpose"].get_payload() == "batch"
                    content = parts["file"].get_payload(decode=True)
                    server.uploads.append(content)
                    self._reply(200, server._file(content))
                elif self.path == "/v1/batches":
                    request = json.loads(data)
                    with server._lock:
                        batch_id = f"batch_{len(server.batches) + 1}"
                        server.batches[batch_id] = {
                            "id": batch_id,
                            "object": "batch",
                            "endpoint": request["endpoint"],
                            "input_file_id": request["input_file_id"],
                            "completion_window": request["completion_window"],
                            "status": "validating",
                            "created_at": int(time.time()),
                            "polls": server.polls,
                        }
                    self._reply(200, server.batches[batch_id])
                else:  # a live chat request: the test wants none
                    with server._lock:
                        server.chat_requests += 1
                    self._reply(500, {"error": {"message": "live requests are not served"}})

            def do_GET(self) -> None:
                parts = self.path.strip("/").split("/")
                if parts[:2] == ["v1", "batches"]:
                    batch = server.batches[parts[2]]
                    with server._lock:
                        if batch["status"] not in ("completed", "expired"):
                            if batch["polls"]:
                                batch["polls"] -= 1
                                batch["status"] = "in_progress"
                            else:
                                server._run(batch)
                    self._reply(200, {k: v for k, v in batch.items() if k != "polls"})
                elif parts[:2] == ["v1", "files"] and parts[3:] == ["content"]:
                    self._reply(200, None, raw=server.files[parts[2]])
                else:
                    self._reply(404, {"error": {"message": "not found"}})

        return Handler


@pytest.fixture
def api() -> Iterator[BatchServer]:
    with BatchServer(lambda body: Reply(article_reply())) as server:
        yield server


def settings(folder: Path, api: BatchServer, **extra: Any) -> Path:
    """The settings file of the batch tests (the cache folder is beside it)."""
    folder.mkdir(exist_ok=True)
    return write_config(folder / "settings.toml", api, **extra)  # type: ignore[arg-type]


def batch(config: Path, command: str, *args: str) -> tuple[int, str]:
    """`summarizer batch COMMAND ARGS` in-process, as `invoke` does for `run`."""
    cache = ["--cache-dir", str(config.parent / "cache")] if command == "submit" else []
    result = CliRunner().invoke(app, ["batch", command, *args, "--config", str(config), *cache])
    return result.exit_code, result.output


def results(path: Path) -> dict[str, Result]:
    return {r.id: r for r in map(Result.model_validate_json, path.read_text().splitlines())}


def story_number(body: dict[str, Any]) -> int:
    """Which test story a request is about (write_stories: "Story number N.")."""
    text = " ".join(m["content"] for m in body["messages"])
    return int(re.search(r"Story number (\d+)\.", text).group(1))  # type: ignore[union-attr]


def test_submit_status_collect_and_a_later_run_is_free(api: BatchServer, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    ids = write_stories(corpus, 3)
    (corpus / "empty.txt").write_text("")
    config = settings(tmp_path, api)
    api.polls = 2  # in progress for the first status and the first collect
    out = tmp_path / "out" / "results.jsonl"

    code, output = batch(config, "submit", str(corpus), "--out", str(out))
    assert code == 0, output
    assert "submitted 3 requests for 3 articles in batch batch_1" in output
    assert "unusable: empty" in output
    lines = api.uploaded()
    assert [(line["method"], line["url"]) for line in lines] == [
        ("POST", "/v1/chat/completions")
    ] * 3
    assert all(line["body"]["response_format"]["type"] == "json_schema" for line in lines)
    state = State.load(state_path(out))
    assert sorted(state.jobs[0].ids) == sorted([*ids, "empty"])
    assert "api_key" not in state.settings and "sk-test" not in state_path(out).read_text()

    code, output = batch(config, "status", "--out", str(out))
    assert (code, output.strip()) == (0, "batch_1 in_progress")

    code, output = batch(config, "collect", "--out", str(out))  # not finished yet
    assert code == 1 and "still running: batch_1" in output
    assert not out.exists()

    code, output = batch(config, "collect", "--out", str(out))
    assert code == 1, output  # the empty file failed
    assert sorted(output_ids(out)) == ids
    assert [(e["id"], e["kind"]) for e in error_lines(out.parent / "results.errors.jsonl")] == [
        ("empty", "input")
    ]
    collected = results(out)
    assert all(r.run.requests == 1 and not r.run.cache_hit for r in collected.values())
    assert State.load(state_path(out)).jobs[0].collected
    code, output = batch(config, "status", "--out", str(out))
    assert output.strip() == "batch_1 completed: 3/3 done, 0 failed"

    code, output = batch(config, "collect", "--out", str(out))  # nothing new, nothing twice
    assert code == 0 and sorted(output_ids(out)) == ids

    # The answers are in the cache under the keys a live run uses: a run is free.
    again = tmp_path / "again.jsonl"
    result = invoke(config, str(corpus), "--strategy", "article", "--out", str(again))
    assert result.exit_code == 1, result.output  # the empty file, again
    assert api.chat_requests == 0
    fresh = results(again)
    assert all(r.run.cache_hit for r in fresh.values())
    assert {i: r.summary for i, r in fresh.items()} == {i: r.summary for i, r in collected.items()}

    # And a new submit of the same articles sends nothing.
    code, output = batch(config, "submit", str(corpus), "--out", str(tmp_path / "third.jsonl"))
    assert code == 0 and "nothing to submit: the cache answers all 3 articles" in output
    assert len(api.batches) == 1


@pytest.mark.parametrize(
    "extra", [{"mode": "json_schema"}, {"mode": "tools"}, {"max_output_tokens": 128}]
)
def test_a_batch_request_and_its_result_are_those_of_a_live_run(
    api: BatchServer, stub: StubServer, tmp_path: Path, extra: dict[str, Any]
) -> None:
    write_stories(tmp_path / "corpus", 1)
    stub.default = lambda request: Reply(article_reply())
    live = write_config(tmp_path / "live.toml", stub, **extra)
    result = invoke(live, str(tmp_path / "corpus"), "--out", str(tmp_path / "live.jsonl"))
    assert result.exit_code == 0, result.output

    config = settings(tmp_path / "batch", api, **extra)
    out = tmp_path / "batch.jsonl"
    assert batch(config, "submit", str(tmp_path / "corpus"), "--out", str(out))[0] == 0
    assert api.uploaded()[0]["body"] == stub.requests[0]
    assert batch(config, "collect", "--out", str(out))[0] == 1  # one poll in progress
    assert batch(config, "collect", "--out", str(out))[0] == 0
    assert results(out)["s00"].summary == results(tmp_path / "live.jsonl")["s00"].summary


def test_collect_validates_salvages_and_records_what_failed(
    api: BatchServer, tmp_path: Path
) -> None:
    """No re-ask is possible: an invalid answer keeps its valid items (with a warning), an
    answer cut off is salvaged, an error line fails its article alone."""
    invalid = article_reply()
    invalid["meetings"][0]["ev"] = [99]  # cites a sentence the article does not have
    cut = json.dumps(article_reply())[:700]
    replies = {
        0: Reply(article_reply()),
        1: Reply(invalid),
        2: Reply(status=400, body=b'{"error": {"message": "prompt too long"}}'),
        3: Reply(cut, finish_reason="length"),
    }
    api.answer = lambda body: replies[story_number(body)]
    api.polls = 0
    write_stories(tmp_path / "corpus", 4)
    config = settings(tmp_path, api)
    out = tmp_path / "results.jsonl"
    assert batch(config, "submit", str(tmp_path / "corpus"), "--out", str(out))[0] == 0

    code, output = batch(config, "collect", "--out", str(out))
    assert code == 1, output
    got = results(out)
    assert sorted(got) == ["s00", "s01", "s03"]
    assert not got["s01"].summary.meetings and got["s01"].summary.agreements
    assert "output invalid and no re-ask possible" in got["s01"].run.warnings[0]
    assert "output cut off at max_tokens" in got["s03"].run.warnings[0]
    [error] = error_lines(tmp_path / "results.errors.jsonl")
    assert (error["id"], error["kind"]) == ("s02", "batch")
    assert "HTTP 400: prompt too long" in error["reason"]

    # The failed article is pending again: a new submit sends it alone.
    assert batch(config, "submit", str(tmp_path / "corpus"), "--out", str(out))[0] == 0
    assert [story_number(line["body"]) for line in api.uploaded()] == [2]


def test_an_expired_batch_fails_its_articles_with_the_reason(
    api: BatchServer, tmp_path: Path
) -> None:
    api.expire, api.polls = True, 0
    write_stories(tmp_path / "corpus", 2)
    config = settings(tmp_path, api)
    out = tmp_path / "results.jsonl"
    assert batch(config, "submit", str(tmp_path / "corpus"), "--out", str(out))[0] == 0
    code, output = batch(config, "collect", "--out", str(out))
    assert code == 1, output
    errors = error_lines(tmp_path / "results.errors.jsonl")
    assert sorted(e["id"] for e in errors) == ["s00", "s01"]
    assert all(e["kind"] == "batch" and "batch_expired" in e["reason"] for e in errors)


def test_submit_refuses_what_it_cannot_do(api: BatchServer, tmp_path: Path) -> None:
    write_stories(tmp_path / "corpus", 1)
    out = tmp_path / "results.jsonl"
    two = settings(tmp_path / "two", api, base_url=[api.base_url, "http://127.0.0.1:9/v1"])
    code, output = batch(two, "submit", str(tmp_path / "corpus"), "--out", str(out))
    assert code == 2 and "exactly one remote endpoint" in output

    config = settings(tmp_path, api)
    assert batch(config, "submit", str(tmp_path / "corpus"), "--out", str(out))[0] == 0
    code, output = batch(config, "submit", str(tmp_path / "corpus"), "--out", str(out))
    assert code == 2 and "batch_1 not collected yet" in output
    assert len(api.batches) == 1


def test_more_requests_than_a_batch_takes_make_several_batches(
    api: BatchServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_api, "MAX_REQUESTS", 2)
    api.polls = 0
    ids = write_stories(tmp_path / "corpus", 3)
    (tmp_path / "corpus" / "copy.txt").write_text(story(0))  # s00's text: the same request
    config = settings(tmp_path, api)
    out = tmp_path / "results.jsonl"
    code, output = batch(config, "submit", str(tmp_path / "corpus"), "--out", str(out))
    assert code == 0 and "3 requests for 4 articles in batch batch_1, batch_2" in output
    assert [len(api.uploaded(n)) for n in range(2)] == [2, 1]
    code, output = batch(config, "collect", "--out", str(out))
    assert code == 0, output
    assert sorted(output_ids(out)) == sorted(["copy", *ids])


def test_api_failures_leave_as_the_packages_typed_error(tmp_path: Path) -> None:
    """Nothing listens at the endpoint: the library raises EndpointError (callers need not
    know the openai client) and the command ends with one line and exit code 1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    out = tmp_path / "results.jsonl"
    config = Config(base_url=closed, model="stub-model", max_attempts=1, timeout=2)
    job = Job(id="batch-1", input_file_id="file-1", requests=1, ids=["a"])
    settings = config.model_dump(mode="json", exclude={"api_key"})
    State(inputs=[], settings=settings, jobs=[job]).save(state_path(out))
    with pytest.raises(EndpointError, match="the Batch API failed: Connection error"):
        batch_api.status(out, None)
    result = CliRunner().invoke(app, ["batch", "status", "--out", str(out)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: the Batch API failed: Connection error")
