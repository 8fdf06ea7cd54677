"""The `summarizer` command: a thin shell that parses arguments, calls the library, prints.

Expected problems (bad settings, duplicate ids, a failing backend) end with a one-line
message on stderr and an exit code, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from summarizer import ray_engine, strategies
from summarizer.batch import (
    DEFAULT_CONCURRENCY,
    local_engine,
    run_batch,
)
from summarizer.batch_cli import batch_app
from summarizer.config import Config
from summarizer.corpus_cli import merge_command, timeline_command
from summarizer.display import plural
from summarizer.dry_run import estimate
from summarizer.errors import ConfigError, SummarizerError
from summarizer.escape import terminal
from summarizer.eval.cli import eval_command
from summarizer.export import article_records
from summarizer.export_cli import export_command
from summarizer.inputs import DuplicateIdError, Inputs, scan_inputs
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
    ResultsFile,
    Strict,
    Verbose,
    check_out,
    default_of,
    finish,
)
from summarizer.outlock import OutputError, output_lock
from summarizer.pipeline import Summarizer
from summarizer.report_cli import report_command
from summarizer.terminal import EXIT_USAGE, BatchView, err, fail, load_or_fail, tables

# Plain help (rich_markup_mode=None): no "<bool>" after flags, "[ray]" printed as written,
# and the same text in a terminal and in a pipe.
app = typer.Typer(
    name="summarizer",
    help="Structured news summaries: who met whom, who signed what, who is fighting whom.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


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
            "--dry-run",
            help="Count the requests each article's strategy would make, their prompt tokens "
            "(the model's tokenizer where at hand) and output budget (and cost); call no model. "
            "Exit code 2 when a named input does not exist or no input is usable.",
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
            show_default=default_of("strategy"),
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
            help="Re-asks after invalid model output.", show_default=default_of("max_reasks")
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
        typer.Option(help="Embedded model context, tokens.", show_default=default_of("n_ctx")),
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
            "and --rpm per endpoint across the cluster (in the checkout: pip install -e '.[ray]')."
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

    Failures go to OUT's errors file (results.errors.jsonl for results.jsonl) and the run
    goes on; an article that succeeds on a rerun leaves it. Settings not given here come from
    the environment, then the --config file, then the defaults shown. Exit code: 0 all done,
    1 some failed or were left (--max-cost), 2 usage error, 130 interrupted (Ctrl-C).
    """
    if quiet and verbose:
        fail("--quiet and --verbose exclude each other")
    if no_cache and refresh:
        fail("--no-cache and --refresh exclude each other")
    check_out(out)
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
    # The output is checked and locked before anything is sent (a dry run writes nothing).
    lock = contextlib.nullcontext() if dry_run else output_lock(out)
    try:
        with lock, Summarizer(config) as summarizer:
            if dry_run:
                missing = [p for p in paths if p != "-" and not Path(p).exists()]
                _print_estimate(inputs, summarizer, out, missing)
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
            finish(report, out, fmt, quiet)
    except (ConfigError, OutputError) as exc:
        fail(exc.reason)
    except SummarizerError as exc:
        fail(exc.reason, 1)
    raise typer.Exit(report.exit_code)


def _print_estimate(inputs: Inputs, summarizer: Summarizer, out: Path, missing: list[str]) -> None:
    plan = estimate(inputs, summarizer, out)
    requests = plural(plan.requests + plan.expected_requests, "request")
    if plan.expected_requests:
        requests += f" ({plan.requests:,} exact, ~{plan.expected_requests:,} estimated)"
    line = (
        f"dry run: {plural(plan.articles, 'article')} to summarise, {requests}, "
        f"{plan.prompt_tokens:,} prompt tokens, at most {plan.output_tokens:,} output tokens"
    )
    if plan.cost is not None:
        line += f", at most ~${plan.cost:.4f}"
    if plan.skipped:
        line += f"; {plan.skipped:,} already in {out}"
    if plan.kept:
        line += f"; {plan.kept:,} more answered in the cache (free)"
    typer.echo(terminal(line))
    typer.echo(f"prompt tokens {plan.tokenizer}")
    if plan.expected_requests:
        typer.echo(
            f"estimated requests assume {plan.assumes} "
            f"({plan.expected_prompt_tokens:,} of the prompt tokens)"
        )
    for problem in plan.problems:
        typer.echo(terminal(f"unusable: {problem.id} ({problem.source}): {problem.reason}"))
    # A dry run checks the command before anything is paid for: a path that does not exist,
    # or nothing usable at all, is a usage error.
    if missing or (plan.problems and not plan.articles and not plan.kept):
        raise typer.Exit(EXIT_USAGE)


def show_command(
    results: ResultsFile,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print JSON instead of tables: per article its items, each with its parties "
            "and quotes (the fields of `summarizer export`).",
        ),
    ] = False,
) -> None:
    """Print a table per article of the meetings, agreements and disputes found.

    Actors are shown under one name per results file ("Maduro" and "Nicolás Maduro" are
    one). Piped, the tables are plain ASCII text.
    """
    loaded = load_or_fail(results)
    if as_json:
        typer.echo(json.dumps(article_records(loaded), indent=2, ensure_ascii=False, default=str))
    else:
        console = Console(highlight=False)
        for renderable in tables(loaded, plain=not console.is_terminal):
            console.print(renderable)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"summarizer {version('summarizer')}")
        raise typer.Exit()


@app.callback()
def main(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Structured news summaries: who met whom, who signed what, who is fighting whom."""


# Listed in --help in the order a user meets them.
app.command("run")(run)
app.command("show")(show_command)
app.command("report")(report_command)
app.command("export")(export_command)
app.command("merge")(merge_command)
app.command("timeline")(timeline_command)
app.command("eval")(eval_command)
app.add_typer(batch_app, name="batch")
