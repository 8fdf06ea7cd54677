"""`summarizer batch submit|status|collect`: the command-line face of `batch_api`; cli.py
registers `batch_app` as `batch`."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import SecretStr
from rich.text import Text

from summarizer import batch_api
from summarizer.batch import (
    EXIT_FAILED,
)
from summarizer.config import Config
from summarizer.display import plural
from summarizer.errors import ConfigError, SummarizerError
from summarizer.escape import terminal
from summarizer.inputs import DuplicateIdError
from summarizer.options import (
    ApiKey,
    BaseUrl,
    CacheDir,
    ConfigFile,
    Fmt,
    MaxChars,
    Model,
    ModeOption,
    Out,
    Paths,
    Quiet,
    Strict,
    Verbose,
    check_out,
    finish,
)
from summarizer.outlock import OutputError, output_lock
from summarizer.terminal import BatchView, err, fail

batch_app = typer.Typer(
    help="The OpenAI Batch API: the same requests as `run --strategy article`, at the Batch "
    "API's price, answered within 24 hours.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@batch_app.command("submit")
def batch_submit(
    paths: Paths,
    out: Out = Path("results.jsonl"),
    base_url: BaseUrl = None,
    model: Model = None,
    api_key: ApiKey = None,
    mode: ModeOption = None,
    cache_dir: CacheDir = None,
    strict: Strict = False,
    max_chars: MaxChars = None,
    config_file: ConfigFile = None,
) -> None:
    """Send every article not yet in OUT to the Batch API, one request per article.

    Requests the cache answers are not sent. What was sent, and the settings, are kept in
    OUT's .batch.json (results.batch.json for results.jsonl): `batch status` and `batch
    collect` take the same --out. The article strategy is used whatever is configured: a
    batch cannot chain the questions of the sentences strategy.
    """
    check_out(out)
    try:
        config = Config.load(
            config_file,
            base_url=base_url,
            model=model,
            api_key=api_key,
            mode=mode,
            cache_dir=cache_dir,
            strict=strict or None,
            max_chars=max_chars,
        )
        sent = batch_api.submit(paths, config, out)
    except (ConfigError, DuplicateIdError) as exc:
        fail(exc.reason)
    except SummarizerError as exc:  # the Batch API failed
        fail(exc.reason, EXIT_FAILED)
    for problem in sent.problems:
        err.print(Text(terminal(f"unusable: {problem}")))
    done = f"; {sent.skipped:,} already in {out}" if sent.skipped else ""
    if not sent.jobs:
        err.print(
            Text(
                f"nothing to submit: the cache answers all {plural(sent.articles, 'article')}"
                f"{done}; `summarizer run --strategy article` writes them at no cost"
            )
        )
        return
    ids = ", ".join(job.id for job in sent.jobs)
    err.print(
        Text(
            f"submitted {plural(sent.requests, 'request')} for "
            f"{plural(sent.articles, 'article')} in batch {ids}{done}"
        )
    )


def _api_key(config_file: Path | None, api_key: str | None) -> SecretStr | None:
    """The key as `run` would find it; every other setting comes from the batch state."""
    try:
        return Config.load(config_file, api_key=api_key).api_key
    except ConfigError as exc:
        fail(exc.reason)


@batch_app.command("status")
def batch_status(
    out: Out = Path("results.jsonl"),
    api_key: ApiKey = None,
    config_file: ConfigFile = None,
) -> None:
    """Show how each batch submitted for OUT is doing."""
    try:
        batches = batch_api.status(out, _api_key(config_file, api_key))
    except ConfigError as exc:
        fail(exc.reason)
    except SummarizerError as exc:  # the Batch API failed
        fail(exc.reason, EXIT_FAILED)
    for batch in batches:
        line = f"{batch.id} {batch.status}"
        if (counts := batch.request_counts) is not None:
            line += f": {counts.completed:,}/{counts.total:,} done, {counts.failed:,} failed"
        typer.echo(line)


@batch_app.command("collect")
def batch_collect(
    out: Out = Path("results.jsonl"),
    fmt: Fmt = "jsonl",
    api_key: ApiKey = None,
    config_file: ConfigFile = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Write the answers of the finished batches into OUT (failures into OUT's errors file).

    Answers are validated like a live run's (an invalid one is salvaged item by item: a
    batch cannot re-ask) and stored in the response cache, so `summarizer run --strategy
    article` with the same settings is free. Rerun it to collect batches that finish later.
    Exit code: 0 all collected, 1 some failed or batches still running.
    """
    if quiet and verbose:
        fail("--quiet and --verbose exclude each other")
    try:
        with output_lock(out):
            with BatchView(err, quiet=quiet, verbose=verbose) as view:
                done = batch_api.collect(out, _api_key(config_file, api_key), on_event=view)
            if done.report is not None:
                finish(done.report, out, fmt, quiet)
    except (ConfigError, DuplicateIdError, OutputError) as exc:
        fail(exc.reason)
    except SummarizerError as exc:  # the Batch API failed
        fail(exc.reason, EXIT_FAILED)
    if done.waiting:
        err.print(Text(f"still running: {', '.join(done.waiting)}; collect again later"))
    code = done.report.exit_code if done.report is not None else 0
    raise typer.Exit(code or (EXIT_FAILED if done.waiting else 0))
