"""The HTML report: quotes highlighted at their offsets, hostile text inert, and a real
headless Chromium that renders the highlights, the timeline and the network without errors."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lxml.html
import pytest
import typer
from typer.testing import CliRunner

from summarizer.corpus import Conflict, Corpus, Event, Source
from summarizer.dates import period
from summarizer.report import Span, build_report, json_for_script, segments
from summarizer.report_cli import report_command
from summarizer.schema import ArticleSummary, Result, RunInfo
from summarizer.writers import LineLog
from tests.conftest import ROOT, SEEDS

if TYPE_CHECKING:  # playwright is imported only where a browser runs
    from playwright.sync_api import ConsoleMessage, Dialog, Page

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TEST_OUTPUT = ROOT / "test-output"
BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

HOSTILE_TEXT = (
    "Leaders <b>met</b> & talked.</script><script>window.__pwned = 1</script>\n"
    '<img src=x onerror="window.__pwned = 2"> Putin met Maduro in Moscow.\n'
    "They signed a deal </script><!-- and -->called it <i>historic</i>."
)


def person(name: str, kind: str = "person") -> dict[str, str]:
    return {"name": name, "kind": kind}


def evidence(text: str, *quotes: str) -> list[dict[str, Any]]:
    """Grounded evidence: each quote with its true span in `text`."""
    out = []
    for quote in quotes:
        start = text.index(quote)
        out.append({"quote": quote, "start": start, "end": start + len(quote), "grounded": True})
    return out


def result(id: str, **summary: Any) -> Result:
    """A real Result, validated like one read back from a results file."""
    summary.setdefault("summary", f"Summary of {id}.")
    return Result(
        summary=ArticleSummary.model_validate({"id": id, **summary}),
        run=RunInfo(model="hand-made", endpoint="none", prompt_version="test"),
    )


def seed_results() -> tuple[list[Result], dict[str, str]]:
    """Hand-made results for the five seed articles, the way a good extraction reads them."""
    texts = {path.stem: path.read_text(encoding="utf-8") for path in sorted(SEEDS.glob("*.txt"))}
    t = list(texts.values())
    ids = list(texts)
    maduro, putin = person("Nicolás Maduro"), person("Vladimir Putin")
    russia, venezuela = person("Russia", "country"), person("Venezuela", "country")
    results = [
        result(
            ids[0],
            title="Who did Maduro meet with in Moscow? \u2013 In pictures",
            published="2025-05-09",
            meetings=[
                {
                    "participants": [maduro, putin],
                    "date": "2025-05",
                    "location": "Moscow",
                    "status": "held",
                    "topics": ["strategic partnership"],
                    "evidence": evidence(
                        t[0],
                        "Maduro\u2019s first visit to Moscow was an official meeting with Russian "
                        "President Vladimir Putin",
                    ),
                },
                {
                    "participants": [maduro, person("Kassym-Jomar Tokayev")],
                    "date": "2025-05-08",
                    "location": "Moscow",
                    "status": "held",
                    "evidence": evidence(
                        t[0], "Kazakhstan and Venezuela met on May 8 for a bilateral meeting."
                    ),
                },
                {
                    "participants": [maduro, person("Xi Jinping")],
                    "date": "2025-05-08",
                    "status": "held",
                    "evidence": evidence(t[0], "Maduro dined with Xi Jinping"),
                },
            ],
            agreements=[
                {
                    "name": "22 agreements",
                    "parties": [venezuela, person("Burkina Faso", "country")],
                    "date": "2025-05",
                    "status": "signed",
                    "areas": ["energy", "mining", "education"],
                    "count": 22,
                    "evidence": evidence(t[0], "22 agreements were signed"),
                }
            ],
        ),
        result(
            ids[1],
            title="Putin and Maduro Sign Strategic Partnership Treaty in Moscow",
            agreements=[
                {
                    "name": "strategic partnership treaty",
                    "parties": [russia, venezuela],
                    "date": "2025-05-07",
                    "status": "signed",
                    "evidence": evidence(
                        t[1],
                        "Russian President Vladimir Putin and his Venezuelan counterpart Nicolás "
                        "Maduro on Wednesday signed a strategic partnership treaty in Moscow",
                    ),
                }
            ],
            disputes=[
                {
                    "issue": "Russia's war against Ukraine",
                    "kind": "military",
                    "sides": [{"parties": [russia]}, {"parties": [person("Ukraine", "country")]}],
                    "status": "ongoing",
                    "evidence": evidence(t[1], "publicly backed Russia\u2019s war against Ukraine"),
                }
            ],
        ),
        result(
            ids[2],
            title="Putin Backs Venezuela\u2019s Dialogue Table During Meeting With Maduro",
            published="2019-09-25",
            meetings=[
                {
                    "participants": [putin, person("Nicolas Maduro")],
                    "date": "2019-09-25",
                    "location": "Kremlin",
                    "status": "held",
                    "evidence": evidence(
                        t[2], "as he met with Venezuelan President Nicolas Maduro at the Kremlin"
                    ),
                }
            ],
            disputes=[
                {
                    "issue": "US blockade of Venezuela",
                    "kind": "trade",
                    "sides": [
                        {"parties": [person("United States", "country")]},
                        {"parties": [venezuela]},
                    ],
                    "status": "ongoing",
                    "evidence": evidence(t[2], "the blockade the U.S. has imposed on Venezuela"),
                }
            ],
        ),
        result(
            ids[3],
            title="Skipping UNGA, Putin and Maduro hold talks in Russia",
            published="2019-09-25",
            meetings=[
                {
                    "participants": [putin, maduro],
                    "date": "2019-09-25",
                    "location": "Moscow",
                    "status": "held",
                    "evidence": evidence(
                        t[3], "the presidents of Russia and Venezuela instead held their own talks"
                    ),
                },
                {
                    "participants": [person("Maria Zakharova"), person("Colombia", "country")],
                    "status": "held",
                    "evidence": [{"quote": "Zakharova met Colombian officials in Bogota."}],
                },
            ],
            agreements=[
                {
                    "name": "military ships agreement",
                    "parties": [russia, venezuela],
                    "date": "2019",
                    "status": "signed",
                    "areas": ["defense"],
                    "evidence": evidence(
                        t[3], "allowing Russia to send military ships to Venezuela"
                    ),
                }
            ],
            disputes=[
                {
                    "issue": "legitimacy of Maduro's re-election",
                    "kind": "political",
                    "sides": [{"parties": [maduro]}, {"parties": [person("Juan Guaido")]}],
                    "status": "ongoing",
                    "evidence": evidence(
                        t[3], "opposition leader Juan Guaido declared himself interim president"
                    ),
                }
            ],
        ),
        result(
            ids[4],
            title="Russia Signs Security, Energy Deals With Venezuela",
            published="2024-11-08",
            meetings=[
                {
                    "participants": [person("Dmitry Chernyshenko"), person("Delcy Rodriguez")],
                    "date": "2024-11-07",
                    "location": "Caracas",
                    "status": "held",
                    "evidence": evidence(
                        t[4],
                        "Dmitry Chernyshenko told Venezuelan Vice President Delcy Rodriguez",
                    ),
                }
            ],
            agreements=[
                {
                    "name": "17 agreements",
                    "parties": [russia, venezuela],
                    "date": "2024-11-07",
                    "status": "signed",
                    "areas": ["security", "energy"],
                    "count": 17,
                    "evidence": evidence(
                        t[4],
                        "Venezuela and its most powerful ally Russia signed agreements Thursday",
                        "the 17 agreements would",
                    ),
                }
            ],
        ),
    ]
    return results, texts


def hostile_result() -> tuple[Result, str]:
    """An article whose text, names and quotes try to inject markup and script."""
    quote = "They signed a deal </script><!-- and -->called it"
    item = result(
        "evil</script>",
        title="<script>window.__pwned = 3</script>Title",
        summary="A summary with </script><script>window.__pwned = 4</script> inside.",
        meetings=[
            {
                "participants": [
                    person('</script><script>window.__pwned = 5</script>"'),
                    person("<img src=x onerror=alert(1)>"),
                ],
                "date": "2024-01-02",
                "location": "<b>Moscow</b>",
                "status": "held",
                "evidence": evidence(HOSTILE_TEXT, "Putin met Maduro in Moscow.", quote),
            }
        ],
    )
    return item, HOSTILE_TEXT


def parse_marks(html: str) -> tuple[list[str], list[list[dict[str, Any]]]]:
    """The texts of the article blocks and their marks, via the standard library's parser."""
    parser = _MarkParser()
    parser.feed(html)
    parser.close()
    return parser.texts, parser.marks


class _MarkParser(HTMLParser):
    """Collects each div.text's character data and the marks inside it, with offsets."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.marks: list[list[dict[str, Any]]] = []
        self._inside = False  # in a div.text, which holds nothing but text and marks
        self._mark: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if self._inside:
            assert tag == "mark", f"unexpected <{tag}> in the article text"
            self._mark = {**attributes, "offset": len(self.texts[-1]), "text": ""}
            self.marks[-1].append(self._mark)
        elif tag == "div" and "text" in (attributes.get("class") or "").split():
            self._inside = True
            self.texts.append("")
            self.marks.append([])

    def handle_endtag(self, tag: str) -> None:
        if tag == "mark":
            self._mark = None
        elif tag == "div":
            self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.texts[-1] += data
            if self._mark is not None:
                self._mark["text"] += data


def having(doc: Any, tag: str, *classes: str) -> list[Any]:
    """Elements `tag` with every one of `classes` (XPath: lxml's CSS needs another package)."""
    tests = "".join(f"[contains(concat(' ', @class, ' '), ' {c} ')]" for c in classes)
    found: list[Any] = doc.xpath(f".//{tag}{tests}")
    return found


def page_data(html: str) -> dict[str, Any]:
    doc = lxml.html.fromstring(html)
    (block,) = doc.xpath('//script[@id="report-data"]')
    data: dict[str, Any] = json.loads(block.text)
    return data


def covered_spans(marks: list[dict[str, Any]]) -> dict[str, tuple[int, int, str]]:
    """Each quote id's span rebuilt from the marks that carry it: (start, end, kind)."""
    spans: dict[str, tuple[int, int, str]] = {}
    for mark in marks:
        start, end = mark["offset"], mark["offset"] + len(mark["text"])
        kind = next(c[2:] for c in mark["class"].split() if c.startswith("k-"))
        for quote in mark["data-q"].split():
            if quote in spans:
                assert spans[quote][1] == start, "a quote's marks must be contiguous"
            spans[quote] = (spans[quote][0] if quote in spans else start, end, kind)
    return spans


# ---- the page, parsed -------------------------------------------------------------------


def test_every_grounded_quote_is_highlighted_at_its_offsets() -> None:
    results, texts = seed_results()
    html = build_report(results, texts)
    blocks, marks = parse_marks(html)
    assert blocks == [texts[r.id] for r in results]  # the whole text, escaped and unaltered
    for result, text, article_marks in zip(results, blocks, marks, strict=True):
        for mark in article_marks:
            assert int(mark["data-s"]) == mark["offset"]
            assert text[mark["offset"] :].startswith(mark["text"])
        expected = sorted(
            (e.start, e.end, kind)
            for kind, item in result.summary.items()
            for e in item.evidence
            if e.grounded
        )
        assert sorted(covered_spans(article_marks).values()) == expected
        for start, end, _ in expected:
            assert text[start:end] in {
                e.quote for _, i in result.summary.items() for e in i.evidence
            }


def test_overlapping_quotes_keep_both_marks() -> None:
    text = "Putin met Maduro and they signed a treaty in Moscow."
    spans = [Span(0, 16, "q0", "meeting"), Span(10, 41, "q1", "agreement")]
    cut = segments(text, spans)
    assert "".join(s.text for s in cut) == text
    assert [(s.start, s.quotes, s.kinds) for s in cut] == [
        (0, ("q0",), ("meeting",)),
        (10, ("q0", "q1"), ("meeting", "agreement")),
        (16, ("q1",), ("agreement",)),
        (41, (), ()),
    ]
    html = build_report(
        [
            result(
                "a",
                meetings=[
                    {
                        "participants": [person("Putin"), person("Maduro")],
                        "status": "held",
                        "evidence": evidence(text, "Putin met Maduro"),
                    }
                ],
                agreements=[
                    {
                        "name": "treaty",
                        "parties": [person("Russia", "country")],
                        "status": "signed",
                        "evidence": evidence(text, "Maduro and they signed a treaty"),
                    }
                ],
            )
        ],
        {"a": text},
    )
    (marks,) = parse_marks(html)[1]
    assert ["mixed" in m["class"] for m in marks] == [False, True, False]
    assert sorted(covered_spans(marks).values()) == [(0, 16, "meeting"), (10, 41, "agreement")]


def test_ungrounded_items_are_marked_and_their_quotes_listed() -> None:
    results, texts = seed_results()
    doc = lxml.html.fromstring(build_report(results, texts))
    (card,) = having(doc, "li", "item", "ungrounded")
    assert "not grounded" in card.text_content()
    (quote,) = having(card, "ul", "quotes")[0].xpath(".//q")
    assert quote.text_content() == "Zakharova met Colombian officials in Bogota."
    assert "not found in the article" in having(card, "span", "why")[0].text_content()
    assert len(having(doc, "li", "item")) == sum(len(r.summary.items()) for r in results)
    assert len(having(doc, "li", "item", "ungrounded")) == 1


def test_missing_text_lists_quotes_and_says_so() -> None:
    results, texts = seed_results()
    del texts[results[1].id]
    doc = lxml.html.fromstring(build_report(results, texts))
    assert (
        "1 of 5 articles came without text" in doc.get_element_by_id("missing-texts").text_content()
    )
    article = doc.get_element_by_id("a1")
    assert not having(article, "div", "text") and having(article, "p", "text-missing")
    quotes = [q.text_content() for q in article.xpath(".//ul[@class='quotes']//q")]
    assert quotes == [e.quote for _, item in results[1].summary.items() for e in item.evidence]
    assert {w.text_content() for w in having(article, "span", "why")} == {"article text not given"}
    assert len(having(doc, "div", "text")) == 4


def test_a_text_that_does_not_fit_the_offsets_is_not_highlighted() -> None:
    results, texts = seed_results()
    texts[results[4].id] = "Some other text entirely. " * 40
    doc = lxml.html.fromstring(build_report(results, texts))
    article = doc.get_element_by_id("a4")
    assert not article.xpath(".//mark")
    assert "3 quotes did not match the text at their offsets" in article.text_content()


def test_hostile_article_cannot_inject_markup_or_script() -> None:
    hostile, text = hostile_result()
    html = build_report([hostile], {hostile.id: text})
    doc = lxml.html.fromstring(html)
    scripts = doc.xpath("//script")
    assert len(scripts) == 3  # the data, ECharts and the page's own script; nothing injected
    assert scripts[0].get("type") == "application/json"
    assert "__pwned" not in scripts[1].text + scripts[2].text
    assert not doc.xpath("//img | //b | //i | //iframe")
    assert not [a for el in doc.iter() for a in el.attrib if a.lower().startswith("on")]
    (block,), _ = parse_marks(html)
    assert block == text
    assert doc.xpath("//article//h2")[0].text_content() == hostile.summary.title
    data = page_data(html)  # the JSON survives intact, "</script>" and all
    assert data["events"][0]["actors"][0] == '</script><script>window.__pwned = 5</script>"'
    assert "</script" not in scripts[0].text and "<!--" not in scripts[0].text


def test_json_for_script_round_trips_and_cannot_close_the_element() -> None:
    value = {"a": "</script><!-- \u2028 & <b>", "b": [1, None, "ü"]}
    text = str(json_for_script(value))
    assert "<" not in text and ">" not in text and "\u2028" not in text
    assert json.loads(text) == value


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("2025-05-09", ("2025-05-09", "2025-05-09")),
        ("2024-02", ("2024-02-01", "2024-02-29")),
        ("2019", ("2019-01-01", "2019-12-31")),
        ("May 2019", None),
        (None, None),
    ],
)
def test_period_covers_a_partial_date(date: str | None, expected: tuple[str, str] | None) -> None:
    assert period(date) == expected


def test_events_from_results_alone() -> None:
    results, texts = seed_results()
    data = page_data(build_report(results, texts))
    events = data["events"]
    assert len(events) == sum(len(r.summary.items()) for r in results)
    dated = [e for e in events if e["date"]]
    assert {e["kind"] for e in dated} == {"meeting", "agreement"}  # disputes carry no date
    # "Nicolas Maduro" and "Nicolás Maduro" are one actor; dispute sides link across only.
    assert "Nicolas Maduro" not in {a for e in events for a in e["actors"]}
    (war,) = [e for e in events if e["label"] == "Russia's war against Ukraine"]
    assert war["pairs"] == [["Russia", "Ukraine"]]
    assert war["from"] is None  # undated, in an article without a publication date
    (blockade,) = [e for e in events if e["label"] == "US blockade of Venezuela"]
    assert (blockade["from"], blockade["to"]) == ("2019-09-25", "2019-09-25")  # published
    assert data["actorKinds"]["Venezuela"] == "country"


def test_corpus_events_replace_item_events() -> None:
    results, texts = seed_results()
    meeting_002 = results[2].summary.meetings[0]
    meeting_003 = results[3].summary.meetings[0]
    corpus = Corpus(
        articles=[r.id for r in results],
        events=[
            Event(
                kind="meeting",
                label="Putin and Maduro talks",
                actors=["Vladimir Putin", "Nicolás Maduro"],
                date="2019-09-25",
                place="Moscow",
                sources=[
                    Source(article_id=results[2].id, item=meeting_002),
                    Source(article_id=results[3].id, item=meeting_003),
                ],
                conflicts=[Conflict(field="place", values={"Kremlin": ["002"], "Moscow": ["003"]})],
            ),
            Event(
                kind="dispute",
                label="legitimacy of the 2018 election",
                actors=["Nicolás Maduro", "Juan Guaidó"],
                sources=[Source(article_id=results[3].id, item=results[3].summary.disputes[0])],
            ),
        ],
    )
    data = page_data(build_report(results, texts, corpus))
    talks, election = data["events"]
    assert talks["items"] == ["i6", "i8"] and talks["date"] == "2019-09-25"
    assert talks["conflicts"] == ["place: Kremlin (1), Moscow (1)"]
    assert talks["pairs"] == [["Nicolás Maduro", "Vladimir Putin"]]
    assert election["pairs"] == [["Juan Guaidó", "Nicolás Maduro"]]  # unified through the corpus
    assert election["from"] == "2019-09-25"  # undated: its article's publication date
    assert "Juan Guaidó" in data["items"]["i11"]["actors"]  # the filter finds it either way


# ---- the command ------------------------------------------------------------------------


def cli(*args: str) -> Any:
    app = typer.Typer(add_completion=False)
    app.command("report")(report_command)
    app.callback()(lambda: None)
    return CliRunner().invoke(app, ["report", *args], env={"COLUMNS": "200"})


def write_results(path: Path, results: list[Result]) -> Path:
    with LineLog(path) as log:
        for r in results:
            log.append(r.model_dump_json())
    return path


def test_command_matches_texts_by_id(tmp_path: Path) -> None:
    results, _ = seed_results()
    jsonl = write_results(tmp_path / "results.jsonl", results)
    out = tmp_path / "out" / "report.html"
    outcome = cli(str(jsonl), "--inputs", str(SEEDS), "--out", str(out))
    assert outcome.exit_code == 0, outcome.output
    assert f"wrote {out}: 5 articles" in outcome.output
    assert len(parse_marks(out.read_text(encoding="utf-8"))[0]) == 5

    outcome = cli(str(jsonl), "-o", str(out), "-i", str(SEEDS / f"{results[0].id}.txt"))
    assert outcome.exit_code == 0, outcome.output
    assert "4 articles without text" in outcome.output
    assert "4 of 5 articles came without text" in out.read_text(encoding="utf-8")

    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / f"{results[1].id}.txt").write_text("   \n")
    (tmp_path / "texts" / "unrelated.txt").write_bytes(b"\x00 not even text")
    outcome = cli(str(jsonl), "-o", str(out), "-i", str(tmp_path / "texts"), "-i", str(SEEDS))
    assert outcome.exit_code == 2 and "duplicate ids" in outcome.output  # which text is meant?
    outcome = cli(str(jsonl), "-o", str(out), "-i", str(tmp_path / "texts"))
    assert outcome.exit_code == 0, outcome.output
    assert f"unreadable articles: {results[1].id}" in outcome.output  # only wanted ones count
    assert "unrelated" not in outcome.output


def test_command_reads_a_corpus_and_reports_bad_input(tmp_path: Path) -> None:
    results, _ = seed_results()
    jsonl = write_results(tmp_path / "results.jsonl", results)
    corpus = tmp_path / "corpus.json"
    corpus.write_text(json.dumps({"articles": [], "events": []}))
    out = tmp_path / "report.html"
    assert cli(str(jsonl), str(corpus), "--out", str(out)).exit_code == 0
    assert page_data(out.read_text(encoding="utf-8"))["fromCorpus"] is True

    corpus.write_text("{not json")
    outcome = cli(str(jsonl), str(corpus), "--out", str(out))
    assert outcome.exit_code == 2 and "not a readable JSON file" in outcome.output
    outcome = cli(str(tmp_path / "missing.jsonl"))
    assert outcome.exit_code == 2 and "no such file" in outcome.output
    (tmp_path / "a.txt").write_text("one text")
    (tmp_path / "dup").mkdir()
    (tmp_path / "dup" / "a.txt").write_text("another")
    outcome = cli(
        str(jsonl), "--inputs", str(tmp_path / "a.txt"), "--inputs", str(tmp_path / "dup")
    )
    assert outcome.exit_code == 2 and "duplicate ids" in outcome.output


# ---- a real browser ---------------------------------------------------------------------


@dataclass
class Browser:
    """A page in Debian's headless Chromium, with what went wrong and what it fetched."""

    page: Page
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def dialog(self, dialog: Dialog) -> None:
        self.errors.append(f"dialog: {dialog.message}")
        dialog.dismiss()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh profile each time
            executable_path=CHROMIUM,
            args=BROWSER_FLAGS,
            headless=True,
            viewport={"width": 1440, "height": 1000},
        )
        browser = Browser(context.new_page())
        browser.page.on("console", browser.console)
        browser.page.on("pageerror", lambda error: browser.errors.append(str(error)))
        browser.page.on("dialog", browser.dialog)
        browser.page.on("request", lambda request: browser.requests.append(request.url))
        try:
            yield browser
        finally:
            context.close()


def painted(page: Page, chart: str) -> int:
    """How many pixels of the chart's canvas are not blank."""
    return int(
        page.evaluate(
            """(id) => {
            const c = document.querySelector('#' + id + ' canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
            return n;
        }""",
            chart,
        )
    )


def test_report_renders_in_a_real_browser(browser: Browser, tmp_path: Path) -> None:
    results, texts = seed_results()
    report = tmp_path / "report.html"
    report.write_text(build_report(results, texts), encoding="utf-8")
    page = browser.page
    page.goto(report.as_uri())
    page.wait_for_function(
        "document.querySelectorAll('#network canvas, #timeline canvas').length == 2"
    )
    page.wait_for_timeout(1500)  # let the force layout settle before the screenshot

    grounded = sum(e.grounded for r in results for _, i in r.summary.items() for e in i.evidence)
    quotes = page.evaluate(
        "new Set([...document.querySelectorAll('mark.hl')]"
        ".flatMap(m => m.dataset.q.split(' '))).size"
    )
    assert quotes == grounded
    assert page.locator("mark.hl.k-meeting").first.is_visible()
    series = page.evaluate(
        """() => {
            const get = (id) => echarts.getInstanceByDom(document.getElementById(id)).getOption();
            return {
                timeline: get('timeline').series.map(s => [s.name, s.data.length]),
                nodes: get('network').series[0].data.length,
                links: get('network').series[0].links.length,
            };
        }"""
    )
    assert series["timeline"] == [["meeting", 6], ["agreement", 4]]
    assert series["nodes"] >= 12 and series["links"] >= 10
    assert painted(page, "timeline") > 1000 and painted(page, "network") > 1000

    TEST_OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(TEST_OUTPUT / "report.png"))

    # Clicking an item flashes its quote; a kind filter hides that kind's items.
    page.locator("li.item.k-agreement").first.click()
    page.wait_for_selector("mark.k-agreement.flash")
    page.locator("mark.k-dispute").first.click()  # and a quote finds its item
    page.wait_for_selector("li.item.k-dispute.flash")
    page.locator("label.kind-toggle.k-dispute input").uncheck()
    assert page.locator("li.item.k-dispute:visible").count() == 0
    assert page.locator("li.item.k-meeting:visible").count() == 7
    page.select_option("#actor", "Juan Guaido")
    assert page.locator("li.item:visible").count() == 0  # his only item is a dispute
    total = sum(len(r.summary.items()) for r in results)
    assert page.locator("#shown").text_content() == f"showing 0 of {total} items"

    assert browser.errors == []
    assert all(url.startswith(("file:", "data:", "about:")) for url in browser.requests)


def test_hostile_report_stays_inert_in_a_real_browser(browser: Browser, tmp_path: Path) -> None:
    hostile, text = hostile_result()
    report = tmp_path / "hostile.html"
    report.write_text(build_report([hostile], {hostile.id: text}), encoding="utf-8")
    page = browser.page
    page.goto(report.as_uri())
    page.wait_for_selector("#network canvas")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("div.text").inner_text() == text
    assert page.locator("mark.hl").count() == 2
    # The tooltips build HTML from names and labels: hover the event and the edge.
    x, y = page.evaluate(
        """() => {
            const chart = echarts.getInstanceByDom(document.getElementById('timeline'));
            const point = chart.getOption().series[0].data[0].value;
            const at = chart.convertToPixel({seriesIndex: 0}, point);
            const box = document.getElementById('timeline').getBoundingClientRect();
            return [box.left + at[0], box.top + at[1]];
        }"""
    )
    page.mouse.move(x, y)
    page.wait_for_timeout(300)
    assert "</script><script>window.__pwned = 5</script>" in page.locator("#timeline").inner_text()
    assert page.evaluate("window.__pwned") is None
    assert not page.locator("#timeline img, #timeline script").count()
    assert browser.errors == []
