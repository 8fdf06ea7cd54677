"""The `summarizer` command: a thin shell that parses arguments, calls the library, prints.

Expected problems (bad settings, duplicate ids, a failing backend) end with a one-line
message on stderr and an exit code, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.text import Text

from summarizer import batch_api, ray_engine, strategies, writers
from summarizer.batch import (
    DEFAULT_CONCURRENCY,
    EXIT_FAILED,
    BatchReport,
    describe,
    estimate,
    local_engine,
    run_batch,
)
from summarizer.config import Config, Mode, default_cache_dir, default_config_file
from summarizer.corpus_cli import merge_command, timeline_command
from summarizer.display import plural
from summarizer.errors import ConfigError, SummarizerError
from summarizer.eval.cli import eval_command
from summarizer.inputs import DuplicateIdError, Inputs, scan_inputs
from summarizer.pipeline import Summarizer
from summarizer.report_cli import report_command
from summarizer.terminal import BatchView, err, fail, listed, tables
from summarizer.writers import ERRORS_NAME, FORMATS, Format, load_results

app = typer.Typer(
    name="summarizer",
    help="Structured news summaries: who met whom, who signed what, who is fighting whom.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("eval")(eval_command)
app.command("merge")(merge_command)
app.command("timeline")(timeline_command)
app.command("report")(report_command)


def _default(field: str) -> str:
    """A setting's built-in default, for --help, read from Config so it never drifts."""
    return str(Config.model_fields[field].default)


# Options shared by `run` and `batch`, declared once.
Paths = Annotated[
    list[str],
    typer.Argument(
        metavar="INPUT...",
        help=".txt/.md/.html files, folders (recursive), .jsonl files of "
        "{id, text, title?, published?, url?} records, or - for standard input.",
        show_default=False,
    ),
]
Out = Annotated[
    Path,
    typer.Option(
        "--out", "-o", help="Results JSONL, one line per article; a rerun resumes from it."
    ),
]
Fmt = Annotated[
    Format,
    typer.Option(
        "--format",
        "-f",
        help="Also write OUT with this suffix, rebuilt from the JSONL: json, csv (a row "
        "per item) or md (a digest).",
    ),
]
Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bar and no per-article lines.")
]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="A line for every article.")]
BaseUrl = Annotated[
    list[str] | None,
    typer.Option(
        metavar="URL",
        help="OpenAI-compatible endpoint; repeat it to spread requests over several (env "
        "SUMMARIZER_BASE_URL, comma-separated).",
        show_default="the embedded model",
    ),
]
Model = Annotated[
    str | None,
    typer.Option(
        help="Model name, or an embedded model name / GGUF path (env SUMMARIZER_MODEL).",
        show_default="qwen2.5-coder-1.5b embedded, gpt-4o-mini remote",
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        help="API key. Insecure: visible in process lists and shell history; prefer the "
        "OPENAI_API_KEY environment variable.",
        show_default="$OPENAI_API_KEY",
    ),
]
ModeOption = Annotated[
    Mode | None,
    typer.Option(help="Instructor mode (env SUMMARIZER_MODE).", show_default=_default("mode")),
]
CacheDir = Annotated[
    Path | None,
    typer.Option(
        help="Response cache (env SUMMARIZER_CACHE_DIR).", show_default=str(default_cache_dir())
    ),
]
Strict = Annotated[
    bool, typer.Option("--strict", help="Drop items none of whose evidence is in the article.")
]
MaxChars = Annotated[
    int | None,
    typer.Option(
        help="Longest article accepted; longer ones fail with the limit named.",
        show_default=_default("max_chars"),
    ),
]
ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="FILE",
        help="Settings file, TOML (env SUMMARIZER_CONFIG).",
        show_default=str(default_config_file()),
    ),
]


def _check_out(out: Path) -> None:
    if out.suffix.lower() in {f".{f}" for f in FORMATS if f != "jsonl"}:
        fail(
            f"--out is the JSONL file a rerun resumes from; for {out.suffix} output use "
            f"--out {out.with_suffix('.jsonl')} --format {out.suffix[1:].lower()}"
        )
    if out.name == ERRORS_NAME:
        fail(f"--out cannot be {ERRORS_NAME}: failures are written there")


def _finish(report: BatchReport, out: Path, fmt: Format, quiet: bool) -> None:
    """Rebuild the export and print the closing lines."""
    target = writers.export(out, fmt)
    lines = describe(report, out)
    for line in lines if not quiet else lines[1:]:  # --quiet keeps only the stop reason
        err.print(Text(line))
    if target is not None and not quiet:
        err.print(Text(f"wrote {target}"))


@app.command()
def run(
    paths: Paths,
    out: Out = Path("results.jsonl"),
    fmt: Fmt = "jsonl",
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            help="Requests in flight to a remote endpoint; the embedded model runs one at a time.",
        ),
    ] = DEFAULT_CONCURRENCY,
    rpm: Annotated[
        float | None,
        typer.Option(
            min=0.001,
            help="Request starts per minute at most (with --engine ray: per endpoint).",
            show_default="no limit",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Count articles and estimate prompt tokens (and cost); call no model."
        ),
    ] = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
    base_url: BaseUrl = None,
    model: Model = None,
    api_key: ApiKey = None,
    mode: ModeOption = None,
    strategy: Annotated[
        str | None,
        typer.Option(
            help="sentences: a focused question per candidate sentence (better recall on small "
            "models); article: one request per article; or another registered strategy: "
            f"{', '.join(strategies.names())} (env SUMMARIZER_STRATEGY).",
            show_default=_default("strategy"),
        ),
    ] = None,
    cache_dir: CacheDir = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Neither read nor write the cache.")
    ] = False,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Ask the model again and overwrite the cache.")
    ] = False,
    strict: Strict = False,
    max_reasks: Annotated[
        int | None,
        typer.Option(
            help="Re-asks after invalid model output.", show_default=_default("max_reasks")
        ),
    ] = None,
    max_cost: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="Stop cleanly once this many USD are spent (needs price_per_mtok in the config).",
            show_default="no limit",
        ),
    ] = None,
    max_chars: MaxChars = None,
    n_ctx: Annotated[
        int | None,
        typer.Option(help="Embedded model context, tokens.", show_default=_default("n_ctx")),
    ] = None,
    max_output_tokens: Annotated[
        int | None,
        typer.Option(
            min=64,
            help="Cap on the tokens of every model answer.",
            show_default="sized to the article",
        ),
    ] = None,
    config_file: ConfigFile = None,
    engine: Annotated[
        Literal["local", "ray"],
        typer.Option(
            help="local: this process, async. ray: a Ray cluster, --concurrency per worker "
            "and --rpm per endpoint across the cluster (pip install 'summarizer[ray]')."
        ),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(
            metavar="ADDR",
            help="Ray cluster to join (e.g. auto, ray://host:10001).",
            show_default="a local Ray for this run",
        ),
    ] = None,
    ray_workers: Annotated[
        int | None,
        typer.Option(min=1, help="Ray workers at most.", show_default="one per CPU of the cluster"),
    ] = None,
) -> None:
    """Summarise articles into OUT, one JSON line each; rerun the same command to resume.

    Failures go to errors.jsonl beside OUT and the run goes on. Settings not given here come
    from the environment, then the --config file, then the defaults shown. Exit code: 0 all
    done, 1 some failed or were left (--max-cost), 2 usage error, 130 interrupted (Ctrl-C).
    """
    if quiet and verbose:
        fail("--quiet and --verbose exclude each other")
    if no_cache and refresh:
        fail("--no-cache and --refresh exclude each other")
    _check_out(out)
    if engine == "local" and (ray_address or ray_workers):
        fail("--ray-address and --ray-workers need --engine ray")
    try:
        config = Config.load(
            config_file,
            base_url=base_url,
            model=model,
            api_key=api_key,
            mode=mode,
            strategy=strategy,
            cache_dir=cache_dir,
            cache="off" if no_cache else "refresh" if refresh else None,
            strict=strict or None,  # an unset flag keeps the config file's choice
            max_reasks=max_reasks,
            max_chars=max_chars,
            n_ctx=n_ctx,
            max_output_tokens=max_output_tokens,
        )
        inputs = scan_inputs(paths)
        if engine == "ray":
            ray_engine.check(config)
    except (ConfigError, DuplicateIdError) as exc:
        fail(exc.reason)
    if not inputs.sources and not inputs.problems:
        fail("no articles found (looked for .txt, .md, .html, .htm and .jsonl files)")
    if max_cost is not None and config.price_per_mtok is None:
        fail("--max-cost needs the model's price: set price_per_mtok in the config file")
    if inputs.ignored and not quiet:
        err.print(f"note: ignored {plural(len(inputs.ignored), 'file')} with other suffixes")
    try:
        with Summarizer(config) as summarizer:
            if dry_run:
                _print_estimate(inputs, summarizer, out)
                return
            with BatchView(err, quiet=quiet, verbose=verbose) as view:
                report = run_batch(
                    inputs,
                    summarizer,
                    out,
                    concurrency=concurrency,
                    rpm=rpm,
                    max_cost=max_cost,
                    on_event=view,
                    engine=(
                        ray_engine.RayEngine(ray_address, ray_workers, rpm)
                        if engine == "ray"
                        else local_engine
                    ),
                )
    except ConfigError as exc:
        fail(exc.reason)
    except SummarizerError as exc:
        fail(exc.reason, 1)
    _finish(report, out, fmt, quiet)
    raise typer.Exit(report.exit_code)


def _print_estimate(inputs: Inputs, summarizer: Summarizer, out: Path) -> None:
    plan = estimate(inputs, summarizer, out)
    line = (
        f"dry run: {plural(plan.articles, 'article')} to summarise, "
        f"~{plan.prompt_tokens:,} prompt tokens"
    )
    if plan.cost is not None:
        line += f" (~${plan.cost:.4f} for the prompts)"
    if plan.skipped:
        line += f"; {plan.skipped:,} already in {out}"
    typer.echo(line)
    for problem in plan.problems:
        typer.echo(f"unusable: {problem.id} ({problem.source}): {problem.reason}")


batch_app = typer.Typer(
    help="The OpenAI Batch API: the same requests as `run --strategy article`, at the Batch "
    "API's price, answered within 24 hours.",
    no_args_is_help=True,
)
app.add_typer(batch_app, name="batch")


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
    _check_out(out)
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
        err.print(Text(f"unusable: {problem}"))
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
    """Write the answers of the finished batches into OUT (failures into errors.jsonl).

    Answers are validated like a live run's (an invalid one is salvaged item by item: a
    batch cannot re-ask) and stored in the response cache, so `summarizer run --strategy
    article` with the same settings is free. Rerun it to collect batches that finish later.
    Exit code: 0 all collected, 1 some failed or batches still running.
    """
    if quiet and verbose:
        fail("--quiet and --verbose exclude each other")
    try:
        with BatchView(err, quiet=quiet, verbose=verbose) as view:
            done = batch_api.collect(out, _api_key(config_file, api_key), on_event=view)
    except (ConfigError, DuplicateIdError) as exc:
        fail(exc.reason)
    except SummarizerError as exc:  # the Batch API failed
        fail(exc.reason, EXIT_FAILED)
    if done.report is not None:
        _finish(done.report, out, fmt, quiet)
    if done.waiting:
        err.print(Text(f"still running: {', '.join(done.waiting)}; collect again later"))
    code = done.report.exit_code if done.report is not None else 0
    raise typer.Exit(code or (EXIT_FAILED if done.waiting else 0))


@app.command("show")
def show_command(
    results: Annotated[Path, typer.Argument(help="A results JSONL written by `summarizer run`.")],
) -> None:
    """Print a table per article of the meetings, agreements and disputes found."""
    if not results.is_file():
        fail(f"{results}: no such file")
    loaded, bad = load_results(results)
    console = Console(highlight=False)
    for renderable in tables(loaded):
        console.print(renderable)
    if bad:
        skipped = listed(list(map(str, bad)), ", ")
        err.print(f"warning: skipped lines that are not results: {skipped}")
