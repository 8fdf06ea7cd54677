"""The read stage: every kind of input, and every kind of bad input, as a clear record."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from summarizer.errors import InputError
from summarizer.inputs import (
    Article,
    DuplicateIdError,
    InputProblem,
    check_text,
    decode,
    read_inputs,
    scan_inputs,
)

NEWS = "Venezuelan President Nicolás Maduro met Vladimir Putin in Moscow on Friday."

HTML = """<html><head><title>Maduro in Moscow | The Paper</title>
<meta property="article:published_time" content="2025-05-09T10:00:00Z">
<link rel="canonical" href="https://example.org/maduro-moscow"></head>
<body><nav><a href="/">Home</a> | <a href="/world">World</a></nav>
<article><h1>Maduro in Moscow</h1>
<p>Venezuelan President Nicolás Maduro met Russian President Vladimir Putin in Moscow on
Friday, where the two leaders signed a strategic partnership agreement.</p>
<p>The agreement covers energy, mining and defence, officials said after the talks.</p>
</article><footer>Copyright 2025 The Paper. All rights reserved.</footer></body></html>"""


def by_id(items: list[Article] | list[InputProblem]) -> dict[str, Article | InputProblem]:
    return {item.id: item for item in items}


def test_folder_is_walked_recursively_in_a_stable_order(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "deep").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "z.txt").write_text(NEWS)
    (tmp_path / "b" / "y.md").write_text(NEWS)
    (tmp_path / "a" / "deep" / "x.txt").write_text(NEWS)
    (tmp_path / ".hidden" / "secret.txt").write_text(NEWS)
    (tmp_path / ".dotfile.txt").write_text(NEWS)
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")
    inputs = scan_inputs([str(tmp_path)])
    assert [s.id for s in inputs.sources] == [
        "z",
        "x",
        "y",
    ]  # a folder's files, then its subfolders
    assert inputs.ignored == [tmp_path / "photo.png"]
    assert inputs.problems == []
    articles, problems = read_inputs([str(tmp_path)])
    assert [a.text for a in articles] == [NEWS] * 3 and problems == []
    assert articles[0].source == str(tmp_path / "z.txt")


def test_html_is_extracted_with_title_and_date(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(HTML)
    [article], problems = read_inputs([str(tmp_path / "page.html")])
    assert problems == []
    assert article.id == "page"
    assert article.title == "Maduro in Moscow"
    assert article.published == "2025-05-09"
    assert article.url == "https://example.org/maduro-moscow"
    assert "strategic partnership agreement" in article.text
    assert "Home" not in article.text and "Copyright" not in article.text


def test_bad_files_become_problems_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_text("  \n\t\u00a0\n")
    (tmp_path / "nul.txt").write_bytes(b"PK\x03\x04\x00\x00binary")
    (tmp_path / "noise.txt").write_bytes(bytes(range(1, 32)) * 50)
    (tmp_path / "nothing.html").write_text("<html><body><script>x()</script></body></html>")
    (tmp_path / "gone.txt").symlink_to(tmp_path / "missing-target.txt")
    articles, problems = read_inputs([str(tmp_path), str(tmp_path / "nope.txt")])
    assert articles == []
    reasons = {p.id: p.reason for p in problems}
    assert reasons == {
        "blank": "empty: no text to summarise",
        "empty": "empty: no text to summarise",
        "gone": "unreadable: No such file or directory",
        "noise": "binary data (mostly control or undecodable bytes), not text",
        "nothing": "no article text found in the HTML page",
        "nul": "binary data (NUL bytes), not text",
        "nope": "file not found",
    }
    assert {p.kind for p in problems} == {"input"}


def test_invalid_utf8_is_replaced_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "latin1.txt").write_bytes(NEWS.encode("latin-1", "replace"))
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbf" + NEWS.encode())
    (tmp_path / "wide.txt").write_bytes(NEWS.encode("utf-16"))
    articles = by_id(read_inputs([str(tmp_path)])[0])
    latin = articles["latin1"]
    assert latin.text == NEWS.replace("á", "\ufffd")
    assert latin.warnings == ("invalid UTF-8 from byte 26: 1 character(s) replaced with U+FFFD",)
    assert articles["bom"].text == NEWS and articles["bom"].warnings == ()
    assert articles["wide"].text == NEWS


@pytest.mark.parametrize(
    ("text", "looks_like"),
    [
        ("404 Not Found. The page you requested does not exist.", "an error page"),
        ("We use cookies to improve your experience. Accept all cookies?", "a cookie or consent"),
        ("Please enable JavaScript to view this site.", "a login, paywall or bot check"),
        ("Subscribe to continue reading this story.", "a login, paywall or bot check"),
    ],
)
def test_non_article_pages_are_rejected(text: str, looks_like: str) -> None:
    with pytest.raises(InputError, match=f"not an article: looks like {looks_like}"):
        check_text(text)


def test_a_real_article_mentioning_cookies_is_kept() -> None:
    article = " ".join([NEWS] * 15) + " The site's cookie policy was criticised, error 404 aside."
    check_text(article)  # long enough to be an article, so the phrases do not matter
    check_text("Officials said 404 people were evacuated after the floods.")


def test_jsonl_records_and_bad_lines(tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {
                "id": "r1",
                "text": NEWS,
                "title": "T",
                "published": "2025-05-09",
                "url": "https://example.org/1",
            }
        ),
        "",
        json.dumps({"id": 7, "text": NEWS}),
        json.dumps({"text": NEWS}),
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"id": "r5", "title": "no text"}),
        json.dumps({"id": "r6", "text": NEWS, "published": 20250509}),
        json.dumps({"id": "r7", "text": "   "}),
    ]
    path = tmp_path / "feed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    articles, problems = read_inputs([str(path)])
    assert [(a.id, a.source) for a in articles] == [
        ("r1", f"{path}:1"),
        ("7", f"{path}:3"),
        ("feed:4", f"{path}:4"),  # no id: file stem and line number, stable across runs
    ]
    assert (articles[0].title, articles[0].published, articles[0].url) == (
        "T",
        "2025-05-09",
        "https://example.org/1",
    )
    assert [(p.id, p.source, p.reason) for p in problems] == [
        (
            "feed:5",
            f"{path}:5",
            "line is not JSON: Expecting property name enclosed in double quotes",
        ),
        ("feed:6", f"{path}:6", "line is a JSON list, not an object"),
        ("r5", f"{path}:7", "record has no 'text' string"),
        ("r6", f"{path}:8", "record 'published' must be a string"),
        ("r7", f"{path}:9", "empty: no text to summarise"),
    ]


def test_jsonl_line_with_invalid_utf8_keeps_the_record_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_bytes(b'{"id": "x", "text": "caf\xe9 talks in Paris"}\n')
    [article], [] = read_inputs([str(path)])
    assert article.text == "caf\ufffd talks in Paris"
    assert article.warnings and "invalid UTF-8" in article.warnings[0]


def test_stdin_jsonl_or_one_article() -> None:
    feed = io.BytesIO(b'{"id": "s1", "text": "First story."}\nnot json\n{"text": "Second."}\n')
    articles, problems = read_inputs(["-"], stdin=feed)
    assert [a.id for a in articles] == ["s1", "stdin:3"]
    assert [(p.id, p.source) for p in problems] == [("stdin:2", "<stdin>:2")]
    [article], [] = read_inputs(["-"], stdin=io.BytesIO(NEWS.encode()))
    assert (article.id, article.source, article.text) == ("stdin", "<stdin>", NEWS)
    [], [problem] = read_inputs(["-"], stdin=io.BytesIO(b"\x00\x01\x02"))
    assert problem.id == "stdin" and "binary" in problem.reason


def test_duplicate_ids_are_named_up_front(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    (tmp_path / "one" / "story.txt").write_text(NEWS)
    (tmp_path / "two" / "story.html").write_text(HTML)
    (tmp_path / "feed.jsonl").write_text(
        json.dumps({"id": "r", "text": NEWS}) + "\n" + json.dumps({"id": "r", "text": NEWS}) + "\n"
    )
    with pytest.raises(DuplicateIdError) as caught:
        scan_inputs([str(tmp_path)])
    assert caught.value.duplicates == {
        "r": [f"{tmp_path}/feed.jsonl:1", f"{tmp_path}/feed.jsonl:2"],
        "story": [f"{tmp_path}/one/story.txt", f"{tmp_path}/two/story.html"],
    }
    assert (
        f"'story' ({tmp_path}/one/story.txt and {tmp_path}/two/story.html)" in caught.value.reason
    )


def test_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(NEWS)
    inputs = scan_inputs([str(tmp_path), str(tmp_path / "a.txt"), f"{tmp_path}/./a.txt"])
    assert [s.id for s in inputs.sources] == ["a"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes_decode_or_raise_input_error(data: bytes) -> None:
    try:
        text, warnings = decode(data)
    except InputError as exc:
        assert exc.reason
        return
    try:
        data.decode("utf-8")
        valid = True
    except UnicodeDecodeError:
        valid = False
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    assert bool(warnings) == (not valid and not utf16)
    assert utf16 or valid or "\ufffd" in text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2000))
def test_any_text_checks_without_crashing(text: str) -> None:
    try:
        check_text(text)
    except InputError as exc:
        assert exc.reason
    articles, problems = read_inputs(["-"], stdin=io.BytesIO(text.encode()))
    assert len(articles) + len(problems) >= 1  # every input is accounted for
