"""The OpenAI Batch API: the requests `summarizer run --strategy article` would send, at the
Batch API's price, answered within a day instead of at once.

- `submit` builds each pending article's requests exactly as the live path would (same
  prompts, schema, mode shaping: `llm.shaped_request`), leaves out what the cache already
  answers, uploads them as JSONL through the Files API and creates the batch (several,
  if there are more requests than one batch takes). Only the "article" strategy can be
  batched: the "sentences" strategy asks questions that depend on earlier answers, and a
  batch cannot chain requests. What was submitted is recorded in a small JSON file beside
  the output (`state_path`), with the settings, so status and collect need nothing else.
- `status` asks the API how each batch is doing.
- `collect` downloads the output and error files of the finished batches and runs the
  submitted articles through the normal batch runner (`batch.run_batch`) with the
  downloaded answers standing in for the endpoint (`BatchAnswers`): the same validators
  (no re-ask is possible, so an invalid answer is salvaged item by item, as after the last
  re-ask of a live run), the same grounding, the same results.jsonl and results.errors.jsonl, the
  same resumability. Every answer lands in the response cache under the key a live run
  uses, so a later `summarizer run --strategy article` with the same settings is free.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeVar

import openai
from openai.types import Batch
from pydantic import BaseModel, Field, SecretStr

from summarizer import redact, strategies
from summarizer.answers import Answer, pick_mode, shaped_request, validate_completion
from summarizer.atomic import write_atomic
from summarizer.batch import BatchReport, Listener, ignore_events, pending, run_batch
from summarizer.config import Config
from summarizer.errors import ConfigError, EndpointError, InputError, SummarizerError
from summarizer.inputs import Article, InputProblem, Inputs, scan_inputs
from summarizer.pipeline import Summarizer
from summarizer.reuse import request_key

ENDPOINT = "/v1/chat/completions"
# One batch holds at most 50,000 requests in an input file of at most 200 MB.
MAX_REQUESTS = 50_000
MAX_BYTES = 190 * 2**20
FINISHED = frozenset({"completed", "failed", "expired", "cancelled"})


class BatchRequestError(SummarizerError):
    """The Batch API gave no usable answer for a request (an error line, an expired batch)."""

    kind = "batch"


class Job(BaseModel):
    """One submitted batch; `ids` are the articles it settles (cached ones and input
    problems included, so collect writes them too)."""

    id: str
    input_file_id: str
    requests: int
    ids: list[str]
    status: str = "validating"
    collected: bool = False


class State(BaseModel):
    """What `submit` recorded: where the articles are and the settings their requests used
    (without the API key), so collect rebuilds the very same requests and cache keys."""

    version: Literal[1] = 1
    inputs: list[str]
    settings: dict[str, Any]
    jobs: list[Job] = Field(default_factory=list)

    def config(self, api_key: SecretStr | None) -> Config:
        return Config(**self.settings, api_key=api_key)

    def save(self, path: Path) -> None:
        write_atomic(path, self.model_dump_json(indent=2))  # never half a state file

    @classmethod
    def load(cls, path: Path) -> State:
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no batch submitted for this output") from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: unreadable batch state ({exc})") from None


P = ParamSpec("P")
T = TypeVar("T")


def _typed(call: Callable[P, T]) -> Callable[P, T]:
    """The API's own failures leave as the package's typed error (an EndpointError), so
    callers never need to know the openai client."""

    @functools.wraps(call)
    def typed(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return call(*args, **kwargs)
        except openai.APIError as exc:
            raise EndpointError(f"the Batch API failed: {exc}") from exc

    return typed


def state_path(out: Path) -> Path:
    """The state lives beside the output it fills: results.jsonl -> results.batch.json."""
    return out.with_suffix(".batch.json")


def _url(config: Config) -> str:
    if config.base_url is None or len(config.base_url) != 1:
        raise ConfigError("the Batch API needs exactly one remote endpoint (--base-url)")
    return config.base_url[0]


def client(config: Config) -> openai.OpenAI:
    """The Files and Batches client; the openai client's own retries cover transport faults."""
    key = config.api_key.get_secret_value() if config.api_key else "sk-no-key"
    redact.register(key)
    return openai.OpenAI(
        base_url=_url(config),
        api_key=key,
        timeout=config.request_timeout,
        max_retries=config.max_attempts - 1,
    )


@dataclass
class Submitted:
    articles: int = 0  # with requests to send or answered by the cache
    requests: int = 0
    skipped: int = 0  # already in the output
    problems: list[str] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)


@dataclass
class _Group:
    """One batch in the making: whole articles, each distinct request once (two articles
    with the same text make the same request)."""

    ids: list[str] = field(default_factory=list)
    lines: dict[str, bytes] = field(default_factory=dict)  # input lines by custom_id
    size: int = 0

    def fits(self, lines: dict[str, bytes]) -> bool:
        new = [line for key, line in lines.items() if key not in self.lines]
        return not self.lines or (
            len(self.lines) + len(new) <= MAX_REQUESTS
            and self.size + sum(map(len, new)) <= MAX_BYTES
        )

    def add(self, id: str, lines: dict[str, bytes]) -> None:
        self.ids.append(id)
        for key, line in lines.items():
            if key not in self.lines:
                self.lines[key] = line
                self.size += len(line)


@_typed
def submit(paths: list[str], config: Config, out: Path) -> Submitted:
    """Upload the requests of every article not yet in `out` and create the batches.

    Nothing is created when the cache answers every request: `summarizer run` then writes
    the results at no cost.
    """
    _url(config)
    if "-" in paths:
        raise ConfigError("the Batch API cannot take standard input: collect reads it again")
    config = config.model_copy(update={"strategy": "article"})
    where = state_path(out)
    if where.exists():
        waiting = [j.id for j in State.load(where).jobs if not j.collected]
        if waiting:
            raise ConfigError(
                f"batch {', '.join(waiting)} not collected yet: run `summarizer batch collect "
                f"--out {out}` first, so nothing is paid for twice"
            )
    inputs = scan_inputs(paths)
    sources, problems, skipped = pending(inputs, out)
    report = Submitted(skipped=skipped, problems=[_problem(p) for p in problems])
    # Input problems ride along in the first batch, so that collect records them in
    # the errors file like a run would.
    groups = [_Group(ids=[p.id for p in problems])]
    with Summarizer(config) as summarizer:
        for source in sources:
            lines = _requests(summarizer, source.read(), report)
            if not groups[-1].fits(lines):
                groups.append(_Group())
            groups[-1].add(source.id, lines)
    report.requests = sum(len(group.lines) for group in groups)
    if not report.requests:
        return report
    state = State(
        inputs=[str(Path(p).resolve()) for p in paths],
        settings=config.model_dump(mode="json", exclude={"api_key"}),
    )
    api = client(config)
    for group in groups:
        content = b"".join(group.lines.values())
        upload = api.files.create(file=("batch.jsonl", content), purpose="batch")
        created = api.batches.create(
            input_file_id=upload.id, endpoint=ENDPOINT, completion_window="24h"
        )
        job = Job(id=created.id, input_file_id=upload.id, requests=len(group.lines), ids=group.ids)
        state.jobs.append(job)
        state.save(where)  # after each batch: one created is never forgotten
        report.jobs.append(job)
    return report


def _requests(
    summarizer: Summarizer, item: Article | InputProblem, report: Submitted
) -> dict[str, bytes]:
    """The batch input lines of one article by custom_id (none if the cache answers all)."""
    if isinstance(item, InputProblem):
        report.problems.append(_problem(item))
        return {}
    try:
        article = summarizer.article(item.text, item.id, item.title, item.published)
        asks = strategies.article_asks(summarizer.chunks(article))
        wanted = [summarizer.request(article, ask) for ask in asks]
    except InputError as exc:
        report.problems.append(_problem(InputProblem(item.id, item.source, exc.reason)))
        return {}
    report.articles += 1
    lines = {}
    for request in wanted:
        if summarizer.cache.get(request.key) is not None:
            continue
        body = shaped_request(
            summarizer.config,
            request.messages,
            request.ask.max_tokens,
            request.ask.model,
            request.context,
        )
        line = {"custom_id": request.key, "method": "POST", "url": ENDPOINT, "body": body}
        lines[request.key] = json.dumps(line, ensure_ascii=False).encode() + b"\n"
    return lines


def _problem(problem: InputProblem) -> str:
    return f"{problem.id} ({problem.source}): {problem.reason}"


@_typed
def status(out: Path, api_key: SecretStr | None) -> list[Batch]:
    """Each batch as the API reports it now; the state file keeps the last status seen."""
    where = state_path(out)
    state = State.load(where)
    api = client(state.config(api_key))
    batches = []
    for job in state.jobs:
        batch = api.batches.retrieve(job.id)
        job.status = batch.status
        batches.append(batch)
    state.save(where)
    return batches


@dataclass
class Collected:
    """What collect did: `report` is the batch runner's, None when no batch was finished."""

    collected: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # batches still running
    report: BatchReport | None = None


@_typed
def collect(
    out: Path,
    api_key: SecretStr | None,
    *,
    on_event: Listener = ignore_events,
) -> Collected:
    """Write the results of every finished batch not yet collected; a rerun resumes."""
    where = state_path(out)
    state = State.load(where)
    config = state.config(api_key)
    api = client(config)
    answers: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    ready: list[Job] = []
    done = Collected()
    for job in state.jobs:
        if job.collected:
            continue
        batch = api.batches.retrieve(job.id)
        job.status = batch.status
        if batch.status not in FINISHED:
            done.waiting.append(job.id)
            continue
        for file_id in (batch.output_file_id, batch.error_file_id):
            if file_id:
                answers.update(_lines(api.files.content(file_id).text))
        if batch.status != "completed":
            errors = batch.errors.data if batch.errors and batch.errors.data else []
            why = "; ".join(e.message or e.code or "" for e in errors)
            notes.append(f"batch {job.id} {batch.status}" + (f": {why}" if why else ""))
        ready.append(job)
    if ready:
        wanted = {i for job in ready for i in job.ids}
        inputs = scan_inputs(state.inputs)
        chosen = Inputs(
            sources=[s for s in inputs.sources if s.id in wanted],
            problems=[p for p in inputs.problems if p.id in wanted],
        )
        missing = "; ".join(notes) or "the article changed since it was submitted"
        with Summarizer(config, llm=BatchAnswers(config, answers, missing)) as summarizer:
            done.report = run_batch(chosen, summarizer, out, on_event=on_event)
        if not done.report.interrupted:
            for job in ready:
                job.collected = True
                done.collected.append(job.id)
    state.save(where)
    return done


def _lines(text: str) -> dict[str, dict[str, Any]]:
    """Output or error file lines by custom_id (our cache key)."""
    lines = (json.loads(line) for line in text.splitlines() if line.strip())
    return {line["custom_id"]: line for line in lines if isinstance(line, dict)}


def _failure(line: dict[str, Any]) -> str | None:
    """Why a batch line holds no completion, or None when it holds one."""
    response = line.get("response") or {}
    error = line.get("error") or (response.get("body") or {}).get("error") or {}
    status = response.get("status_code")
    if status == 200 and not error:
        return None
    detail = ": ".join(str(error[k]) for k in ("code", "message") if error.get(k))
    detail = detail or "no completion"
    return f"HTTP {status}: {detail}" if status else detail


class BatchAnswers:
    """Downloaded batch answers, standing in for the endpoint of a `Summarizer`."""

    def __init__(self, config: Config, lines: dict[str, dict[str, Any]], missing: str) -> None:
        self.config = config
        self.mode = pick_mode(config)
        self.lines = lines
        self.missing = missing

    def extract(
        self,
        messages: list[dict[str, str]],
        model: type[BaseModel],
        context: dict[str, Any],
        max_tokens: int,
    ) -> Answer:
        line = self.lines.get(request_key(self.config, messages, model, max_tokens))
        if line is None:
            raise BatchRequestError(f"no answer in the batch output ({self.missing})")
        if (failure := _failure(line)) is not None:
            raise BatchRequestError(f"the batch request failed: {failure}")
        return validate_completion(line["response"]["body"], model, self.mode, context)

    async def aextract(
        self,
        messages: list[dict[str, str]],
        model: type[BaseModel],
        context: dict[str, Any],
        max_tokens: int,
    ) -> Answer:
        return self.extract(messages, model, context, max_tokens)
