"""The read stage: command-line inputs become articles with stable ids.

Finding inputs (`scan_inputs`) is kept apart from reading them (`Source.read`). A file's id
is its stem, known before the file is opened, so duplicate ids are caught up front and a
resumed run over 10,000 files skips the finished ones without reading or parsing them again.

Bad input never stops a batch: it becomes an `InputProblem` with a one-line reason. Text is
UTF-8 (a UTF-8 or UTF-16 byte-order mark is honoured); invalid bytes are decoded as U+FFFD
and the article carries a warning instead of being rejected, because one stray byte in a
scraped page should not cost the whole article.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from summarizer.errors import InputError

STDIN = "-"
TEXT_SUFFIXES = frozenset({".txt", ".md"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
JSONL_SUFFIXES = frozenset({".jsonl"})
FOLDER_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES

_SNIFF = 8192  # bytes / characters looked at to tell text from binary
# Largest input file (and JSONL line, and standard input) read, checked before decoding so no
# input can exhaust memory. Far above --max-chars: HTML pages carry much markup.
MAX_INPUT_BYTES = 32 * 1024 * 1024
_MAX_GARBAGE = 0.1  # share of control or replacement characters that makes text "binary"
_KEEP_CONTROLS = frozenset("\t\n\r\f\v")

# Pages a scraper saves instead of the article. Only short texts are judged, so a real
# article that mentions cookies or a 404 error is never rejected.
_SHORT_PAGE_WORDS = 150
_NOT_ARTICLE: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "an error page",
        re.compile(
            r"\b(?:error 404|404 (?:error|not found)|page not found|403 forbidden|access denied"
            r"|(?:page|article) (?:you (?:requested|are looking for) )?(?:does not|doesn't)"
            r" exist|(?:page|article) (?:is )?no longer available)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "a cookie or consent wall",
        re.compile(
            r"\b(?:accept (?:all )?cookies|we use cookies|this (?:site|website) uses cookies"
            r"|cookie (?:policy|settings|preferences|consent)|manage (?:consent|preferences))\b",
            re.IGNORECASE,
        ),
    ),
    (
        "a login, paywall or bot check",
        re.compile(
            r"\b(?:enable javascript|javascript is (?:disabled|required)|verify you are (?:a )?"
            r"human|are you a robot|captcha|subscribe to (?:continue|read)"
            r"|(?:sign|log) in to (?:continue|read))\b",
            re.IGNORECASE,
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class Article:
    """One article ready for the model; `source` says where it came from, for error reports."""

    id: str
    text: str
    source: str
    title: str | None = None
    published: str | None = None
    url: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class InputProblem:
    """An input that cannot be summarised; the batch records it in the errors file and goes on."""

    id: str
    source: str
    reason: str
    kind: str = InputError.kind


@dataclass(frozen=True, slots=True)
class Source:
    """An article found but not read yet: a file, or a record already parsed (`article`)."""

    id: str
    origin: str  # the file's path, "file.jsonl:LINE" or "<stdin>"
    article: Article | None = None

    def read(self) -> Article | InputProblem:
        """The article, or the reason it is unusable (unreadable, empty, binary, not an article).

        Limits that depend on settings (--max-chars, the model's context) are the
        summariser's to check, so a dry run and a real run judge an article alike.
        """
        try:
            article = self.article if self.article is not None else _read_file(self)
            check_text(article.text)
        except InputError as exc:
            return InputProblem(self.id, self.origin, exc.reason)
        return article


@dataclass(slots=True)
class Inputs:
    """Everything the command line named, in a stable order."""

    sources: list[Source] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)  # files in folders with other suffixes
    seen: set[str] = field(default_factory=set, repr=False)  # real paths, to read a file once


class DuplicateIdError(InputError):
    """Two inputs share an id: the output could not tell them apart, so nothing runs."""

    def __init__(self, duplicates: dict[str, list[str]]) -> None:
        shown = [f"{id!r} ({' and '.join(where)})" for id, where in list(duplicates.items())[:5]]
        more = f" and {len(duplicates) - 5} more" if len(duplicates) > 5 else ""
        super().__init__(f"duplicate ids: {'; '.join(shown)}{more}")
        self.duplicates = duplicates


def scan_inputs(paths: list[str], stdin: BinaryIO | None = None) -> Inputs:
    """Find every article named by `paths` (files, folders, .jsonl, `-`) without reading files.

    Raises DuplicateIdError when two sources share an id.
    """
    inputs = Inputs()
    for raw in paths:
        if raw == STDIN:
            data = (stdin or sys.stdin.buffer).read(MAX_INPUT_BYTES + 1)
            if len(data) > MAX_INPUT_BYTES:
                inputs.problems.append(InputProblem("stdin", "<stdin>", _too_big("standard input")))
            else:
                _scan_stdin(data, inputs)
            continue
        path = Path(raw)
        if path.is_dir():
            _scan_folder(path, inputs)
        elif path.exists():
            _scan_file(path, inputs)
        else:
            inputs.problems.append(InputProblem(path.stem or raw, raw, "file not found"))
    origins: dict[str, list[str]] = defaultdict(list)
    for source in inputs.sources:
        origins[source.id].append(source.origin)
    duplicates = {id: where for id, where in origins.items() if len(where) > 1}
    if duplicates:
        raise DuplicateIdError(duplicates)
    return inputs


def read_inputs(
    paths: list[str], stdin: BinaryIO | None = None, *, ids: Iterable[str] | None = None
) -> tuple[list[Article], list[InputProblem]]:
    """Scan and read everything at once (only the articles in `ids`, when given): for small
    inputs, scoring and reports; batches read lazily."""
    inputs = scan_inputs(paths, stdin)
    wanted = None if ids is None else set(ids)
    articles: list[Article] = []
    problems = [p for p in inputs.problems if wanted is None or p.id in wanted]
    for source in inputs.sources:
        if wanted is not None and source.id not in wanted:
            continue
        item = source.read()
        if isinstance(item, Article):
            articles.append(item)
        else:
            problems.append(item)
    return articles, problems


def check_text(text: str, max_chars: int | None = None) -> None:
    """Raise InputError when `text` is empty, a page that is not an article, binary or longer
    than `max_chars`: checked before anything is paid for, alike by the reader and the
    library."""
    if not text.strip():
        raise InputError("empty: no text to summarise")
    if len(text.split()) < _SHORT_PAGE_WORDS:
        for what, pattern in _NOT_ARTICLE:
            if match := pattern.search(text):
                raise InputError(f"not an article: looks like {what} ({match.group()!r})")
    if max_chars is None:  # the reader's call: settings-dependent limits are the library's
        return
    if "\x00" in text:
        raise InputError("binary data, not text (NUL bytes found)")
    if len(text) > max_chars:
        raise InputError(
            f"article has {len(text):,} characters; the limit is {max_chars:,} (--max-chars)"
        )


def decode(data: bytes) -> tuple[str, tuple[str, ...]]:
    """Bytes to text: UTF-8 (or UTF-16 with a BOM); bad bytes become U+FFFD with a warning.

    Raises InputError for binary data (NUL bytes, or mostly control/undecodable characters).
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text, warnings = data.decode("utf-16", errors="replace"), ()
    else:
        if b"\x00" in data[:_SNIFF]:
            raise InputError("binary data (NUL bytes), not text")
        try:
            text, warnings = data.decode("utf-8-sig"), ()
        except UnicodeDecodeError as exc:
            text = data.decode("utf-8-sig", errors="replace")
            warnings = (
                f"invalid UTF-8 from byte {exc.start}: {text.count(chr(0xFFFD))} "
                "character(s) replaced with U+FFFD",
            )
    sample = text[:_SNIFF]
    garbage = sum(
        1
        for ch in sample
        if ch == "\ufffd" or (unicodedata.category(ch) == "Cc" and ch not in _KEEP_CONTROLS)
    )
    if sample and garbage / len(sample) > _MAX_GARBAGE:
        raise InputError("binary data (mostly control or undecodable bytes), not text")
    return text, warnings


def _scan_folder(folder: Path, inputs: Inputs) -> None:
    """Walk `folder` in sorted order, skipping hidden entries, so ids and order are stable."""

    def unreadable(exc: OSError) -> None:
        name = Path(exc.filename or folder)
        inputs.problems.append(InputProblem(name.name, str(name), f"unreadable: {exc.strerror}"))

    for root, dirs, files in os.walk(folder, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root, name)
            if name.startswith("."):
                continue
            if path.suffix.lower() in FOLDER_SUFFIXES:
                _scan_file(path, inputs)
            else:
                inputs.ignored.append(path)


def _scan_file(path: Path, inputs: Inputs) -> None:
    """A file named twice (`dir` and `dir/a.txt`) is one article, not a duplicate id."""
    real = os.path.realpath(path)
    if real in inputs.seen:
        return
    inputs.seen.add(real)
    if path.suffix.lower() not in JSONL_SUFFIXES:
        inputs.sources.append(Source(path.stem, str(path)))
        return
    try:
        with _open_regular(path) as file:
            _scan_jsonl(
                iter(lambda: file.readline(MAX_INPUT_BYTES + 1), b""), path.stem, str(path), inputs
            )
    except InputError as exc:
        inputs.problems.append(InputProblem(path.stem, str(path), exc.reason))


def _scan_stdin(data: bytes, inputs: Inputs) -> None:
    """JSONL when the first non-blank line is a JSON object, else one article with id `stdin`.

    Judging by the first line (not every line) means one bad record in piped JSONL becomes one
    problem, instead of the whole stream being summarised as a single article.
    """
    first = next((line for line in data.splitlines() if line.strip()), b"")
    if _json_object(first) is not None:
        _scan_jsonl(data.splitlines(keepends=True), "stdin", "<stdin>", inputs)
        return
    try:
        text, warnings = decode(data)
    except InputError as exc:
        inputs.problems.append(InputProblem("stdin", "<stdin>", exc.reason))
        return
    article = Article("stdin", text, "<stdin>", warnings=warnings)
    inputs.sources.append(Source("stdin", "<stdin>", article=article))


def _scan_jsonl(lines: Iterable[bytes], stem: str, origin: str, inputs: Inputs) -> None:
    """One source per record; a line that is not a usable record becomes a problem."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where, fallback_id = f"{origin}:{number}", f"{stem}:{number}"
        if len(line) > MAX_INPUT_BYTES:
            inputs.problems.append(InputProblem(fallback_id, where, _too_big("line")))
            if not line.endswith(b"\n"):  # the rest of the line would read as more lines
                break
            continue
        try:
            text, warnings = decode(line)
            record = json.loads(text)
        except InputError as exc:
            inputs.problems.append(InputProblem(fallback_id, where, exc.reason))
            continue
        except json.JSONDecodeError as exc:
            inputs.problems.append(InputProblem(fallback_id, where, f"line is not JSON: {exc.msg}"))
            continue
        try:
            article = _record(record, fallback_id, where, warnings)
        except InputError as exc:
            id = record.get("id") if isinstance(record, dict) else None
            inputs.problems.append(InputProblem(str(id or fallback_id), where, exc.reason))
            continue
        inputs.sources.append(Source(article.id, where, article=article))


def _record(record: Any, fallback_id: str, where: str, warnings: tuple[str, ...]) -> Article:
    """Validate one JSONL record: {id?, text, title?, published?, url?}."""
    if not isinstance(record, dict):
        raise InputError(f"line is a JSON {type(record).__name__}, not an object")
    if not isinstance(record.get("text"), str):
        raise InputError("record has no 'text' string")
    id = record.get("id")
    if id is not None and not isinstance(id, str | int):
        raise InputError("record 'id' must be a string or a number")
    for key in ("title", "published", "url"):
        if record.get(key) is not None and not isinstance(record[key], str):
            raise InputError(f"record '{key}' must be a string")
    # JSON may escape lone surrogates ("\ud800") that no encoder accepts: replace them like
    # invalid UTF-8, and say so.
    fields = {k: _no_surrogates(record[k]) for k in ("text", "title", "url") if record.get(k)}
    replaced = sum(n for _, n in fields.values())
    if replaced:
        warnings = (*warnings, f"{replaced} lone surrogate(s) replaced with U+FFFD")
    return Article(
        id=_no_surrogates(str(id))[0] if id not in (None, "") else fallback_id,
        text=fields["text"][0] if "text" in fields else record["text"],
        source=where,
        title=fields["title"][0] if "title" in fields else None,
        published=record.get("published") or None,
        url=fields["url"][0] if "url" in fields else None,
        warnings=warnings,
    )


def _no_surrogates(value: str) -> tuple[str, int]:
    """`value` with lone surrogates replaced by U+FFFD, and how many there were."""
    clean = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return clean, sum(1 for a, b in zip(value, clean, strict=True) if a != b)


def read_texts(paths: Sequence[str], ids: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Texts of the articles in `ids` found under `paths`, and one line per problem.

    Only the wanted articles are read, so pointing at a large folder stays cheap. Raises
    DuplicateIdError (an InputError) when two inputs share an id: either text could be meant.
    """
    articles, problems = read_inputs(list(paths), ids=ids)
    return (
        {a.id: a.text for a in articles},
        [f"{p.id} ({p.source}): {p.reason}" for p in problems],
    )


def _too_big(what: str) -> str:
    return f"{what} is larger than {MAX_INPUT_BYTES // 2**20} MiB, the most an input may hold"


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _open_regular(path: Path) -> BinaryIO:
    """`path` opened for reading if it is a regular file, else InputError naming what it is.

    Opened without blocking and checked on the open descriptor, so a FIFO never hangs the run
    (not even one swapped in after a check) and a device such as /dev/zero is never read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if (mode := _mode(path)) is not None and not stat.S_ISREG(mode):
            raise InputError(_not_regular(mode)) from None
        raise InputError(f"unreadable: {exc.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise InputError(_not_regular(mode))
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _mode(path: Path) -> int | None:
    try:
        return path.stat().st_mode
    except OSError:
        return None


def _not_regular(mode: int) -> str:
    what = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    return f"not a regular file: {what}; only regular files are read"


def _read_file(source: Source) -> Article:
    path = Path(source.origin)
    with _open_regular(path) as file:
        try:
            data = file.read(MAX_INPUT_BYTES + 1)
        except OSError as exc:
            raise InputError(f"unreadable: {exc.strerror}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(_too_big("file"))
    if path.suffix.lower() in HTML_SUFFIXES:
        return _read_html(source, data)
    text, warnings = decode(data)
    return Article(source.id, text, source.origin, warnings=warnings)


def _read_html(source: Source, data: bytes) -> Article:
    """Main text, title and date of a saved web page, via trafilatura (which sniffs the charset)."""
    import trafilatura  # costs ~0.2 s to import: only runs that read HTML should pay it

    if b"\x00" in data[:_SNIFF]:
        raise InputError("binary data (NUL bytes), not an HTML page")
    doc = trafilatura.bare_extraction(data, with_metadata=True, include_comments=False)
    if doc is None or not (doc.text or "").strip():
        raise InputError("no article text found in the HTML page")
    return Article(
        source.id, doc.text, source.origin, title=doc.title, published=doc.date, url=doc.url
    )


def _json_object(line: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
