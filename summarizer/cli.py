"""The `summarizer` command: a thin shell that parses arguments, calls the library, prints.

Expected problems (bad settings, duplicate ids, a failing backend) end with a one-line
message on stderr and an exit code, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from summarizer import writers
from summarizer.batch import DEFAULT_CONCURRENCY, describe, estimate, run_batch
from summarizer.config import Config, Mode, Strategy, default_cache_dir, default_config_file
from summarizer.corpus_cli import merge_command, timeline_command
from summarizer.errors import ConfigError, SummarizerError
from summarizer.eval.cli import eval_command
from summarizer.inputs import DuplicateIdError, Inputs, scan_inputs
from summarizer.pipeline import Summarizer
from summarizer.report_cli import report_command
from summarizer.writers import ERRORS_NAME, FORMATS, Format, plural

EXIT_USAGE = 2

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

_err = Console(stderr=True, highlight=False, soft_wrap=True)  # one message, one line


def _default(field: str) -> str:
    """A setting's built-in default, for --help, read from Config so it never drifts."""
    return str(Config.model_fields[field].default)


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    _err.print(Text(f"error: {message}"))
    raise typer.Exit(code)


@app.command()
def run(
    paths: Annotated[
        list[str],
        typer.Argument(
            metavar="INPUT...",
            help=".txt/.md/.html files, folders (recursive), .jsonl files of "
            "{id, text, title?, published?, url?} records, or - for standard input.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Results JSONL, one line per article; a rerun resumes from it."
        ),
    ] = Path("results.jsonl"),
    fmt: Annotated[
        Format,
        typer.Option(
            "--format",
            "-f",
            help="Also write OUT with this suffix, rebuilt from the JSONL: json, csv (a row "
            "per item) or md (a digest).",
        ),
    ] = "jsonl",
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
        typer.Option(min=0.001, help="Request starts per minute at most.", show_default="no limit"),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Count articles and estimate prompt tokens (and cost); call no model."
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar and no per-article lines.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="A line for every article.")
    ] = False,
    base_url: Annotated[
        str | None,
        typer.Option(
            help="OpenAI-compatible endpoint (env SUMMARIZER_BASE_URL).",
            show_default="the embedded model",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="Model name, or an embedded model name / GGUF path (env SUMMARIZER_MODEL).",
            show_default="qwen2.5-coder-1.5b embedded, gpt-4o-mini remote",
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            help="API key. Insecure: visible in process lists and shell history; prefer the "
            "OPENAI_API_KEY environment variable.",
            show_default="$OPENAI_API_KEY",
        ),
    ] = None,
    mode: Annotated[
        Mode | None,
        typer.Option(help="Instructor mode (env SUMMARIZER_MODE).", show_default=_default("mode")),
    ] = None,
    strategy: Annotated[
        Strategy | None,
        typer.Option(
            help="sentences: a focused question per candidate sentence (better recall on small "
            "models); article: one request per article (env SUMMARIZER_STRATEGY).",
            show_default=_default("strategy"),
        ),
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            help="Response cache (env SUMMARIZER_CACHE_DIR).", show_default=str(default_cache_dir())
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Neither read nor write the cache.")
    ] = False,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Ask the model again and overwrite the cache.")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Drop items none of whose evidence is in the article.")
    ] = False,
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
    max_chars: Annotated[
        int | None,
        typer.Option(
            help="Longest article accepted; longer ones fail with the limit named.",
            show_default=_default("max_chars"),
        ),
    ] = None,
    n_ctx: Annotated[
        int | None,
        typer.Option(help="Embedded model context, tokens.", show_default=_default("n_ctx")),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="Settings file, TOML (env SUMMARIZER_CONFIG).",
            show_default=str(default_config_file()),
        ),
    ] = None,
) -> None:
    """Summarise articles into OUT, one JSON line each; rerun the same command to resume.

    Failures go to errors.jsonl beside OUT and the run goes on. Settings not given here come
    from the environment, then the --config file, then the defaults shown. Exit code: 0 all
    done, 1 some failed or were left (--max-cost), 2 usage error, 130 interrupted (Ctrl-C).
    """
    if quiet and verbose:
        _fail("--quiet and --verbose exclude each other")
    if no_cache and refresh:
        _fail("--no-cache and --refresh exclude each other")
    if out.suffix.lower() in {f".{f}" for f in FORMATS if f != "jsonl"}:
        _fail(
            f"--out is the JSONL file a rerun resumes from; for {out.suffix} output use "
            f"--out {out.with_suffix('.jsonl')} --format {out.suffix[1:].lower()}"
        )
    if out.name == ERRORS_NAME:
        _fail(f"--out cannot be {ERRORS_NAME}: failures are written there")
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
        )
        inputs = scan_inputs(paths)
    except (ConfigError, DuplicateIdError) as exc:
        _fail(exc.reason)
    if not inputs.sources and not inputs.problems:
        _fail("no articles found (looked for .txt, .md, .html, .htm and .jsonl files)")
    if max_cost is not None and config.price_per_mtok is None:
        _fail("--max-cost needs the model's price: set price_per_mtok in the config file")
    if inputs.ignored and not quiet:
        _err.print(f"note: ignored {plural(len(inputs.ignored), 'file')} with other suffixes")
    try:
        with Summarizer(config) as summarizer:
            if dry_run:
                _print_estimate(inputs, summarizer, out)
                return
            report = run_batch(
                inputs,
                summarizer,
                out,
                concurrency=concurrency,
                rpm=rpm,
                max_cost=max_cost,
                console=_err,
                verbose=verbose,
                quiet=quiet,
            )
    except ConfigError as exc:
        _fail(exc.reason)
    except SummarizerError as exc:
        _fail(exc.reason, 1)
    target = writers.export(out, fmt)
    lines = describe(report, out)
    for line in lines if not quiet else lines[1:]:  # --quiet keeps only the stop reason
        _err.print(Text(line))
    if target is not None and not quiet:
        _err.print(Text(f"wrote {target}"))
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


@app.command("show")
def show_command(
    results: Annotated[Path, typer.Argument(help="A results JSONL written by `summarizer run`.")],
) -> None:
    """Print a table per article of the meetings, agreements and disputes found."""
    if not results.is_file():
        _fail(f"{results}: no such file")
    bad = writers.show(results, Console(highlight=False))
    if bad:
        lines = ", ".join(map(str, bad[:10])) + (" ..." if len(bad) > 10 else "")
        _err.print(f"warning: skipped lines that are not results: {lines}")
