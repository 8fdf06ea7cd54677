"""The report on a phone (390 px) and a desktop (1400 px), made by the real `summarizer report`
command and opened in headless Chromium: no sideways scroll, one name per actor, network
labels that stay apart, warnings folded into a count, untitled articles headed by their text.
Screenshots go to test-output/ (copied to docs/ for the README)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from summarizer.cli import app
from summarizer.schema import Result
from summarizer.writers import LineLog
from tests.conftest import SEEDS
from tests.test_report import (  # noqa: F401  (browser: the fixture)
    TEST_OUTPUT,
    Browser,
    browser,
    seed_results,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page


def crowded_results(path: Path) -> tuple[list[Result], Path]:
    """The seed results as an analyst gets them: Maduro spelled three ways, an untitled
    article, and an article with warnings."""
    results, _ = seed_results()
    results[1] = results[1].model_copy(
        update={
            "summary": results[1].summary.model_copy(update={"title": None}),
            "run": results[1].run.model_copy(
                update={"warnings": ["3 of 9 answers failed validation", "date guessed"]}
            ),
        }
    )
    # Ids made from URLs are long and have no spaces to break at.
    slug = "www-example-com-2025-05-09-venezuela-russia-strategic-partnership-treaty-moscow"
    results.append(
        results[0].model_copy(
            update={"summary": results[0].summary.model_copy(update={"id": slug})}
        )
    )
    with LineLog(path) as log:
        for n, result in enumerate(results):
            line = result.model_dump_json()
            if n == 2:
                line = line.replace('"Nicolás Maduro"', '"Nicolas Maduro"')
            if n == 3:
                line = line.replace('"Nicolás Maduro"', '"Maduro"')
            log.append(line)
    return results, path


def make_report(tmp_path: Path, *args: str) -> tuple[list[Result], Path]:
    results, jsonl = crowded_results(tmp_path / "results.jsonl")
    out = tmp_path / "report.html"
    made = CliRunner().invoke(app, ["report", str(jsonl), *args, "-o", str(out)])
    assert made.exit_code == 0, made.output
    return results, out


@pytest.fixture
def report(tmp_path: Path) -> tuple[list[Result], Path]:
    return make_report(tmp_path, "--inputs", str(SEEDS))


def fits(page: Page, width: int) -> None:
    """Nothing scrolls sideways: no element reaches past the screen's right edge."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    wide = page.evaluate(
        f"""() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > {width} + 1
                && !e.closest('.text, .chart'))
            .map(e => e.tagName + '.' + e.className)"""
    )
    assert wide == []


def network_nodes(page: Page) -> list[dict[str, object]]:
    return page.evaluate(
        """() => echarts.getInstanceByDom(document.getElementById('network'))
            .getOption().series[0].data.map(n => ({name: n.name, label: n.label.show}))"""
    )


@pytest.mark.parametrize("width", [390, 1400])
def test_report_fits_the_screen_and_keeps_one_name_per_actor(
    browser: Browser,  # noqa: F811  (the fixture)
    report: tuple[list[Result], Path],
    width: int,
) -> None:
    results, out = report
    page = browser.page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(out.as_uri())
    page.wait_for_function("document.querySelectorAll('#network canvas').length == 1")
    page.wait_for_timeout(800)

    fits(page, width)

    # One name per actor in the network and the actor filter.
    names = [n["name"] for n in network_nodes(page)]
    assert "Nicolás Maduro" in names
    assert "Nicolas Maduro" not in names and "Maduro" not in names
    options = page.locator("#actor option").all_text_contents()
    assert "Nicolas Maduro" not in options and "Maduro" not in options

    # Labels stay apart: on a phone only the busiest actors are labelled, the rest on hover.
    labelled = sum(bool(n["label"]) for n in network_nodes(page))
    assert labelled <= 6 if width < 560 else labelled == len(names)

    # Warnings are folded into a count that opens.
    untitled = page.locator("article.article").nth(1)
    folded = untitled.locator("details.warnings")
    assert folded.locator("summary").inner_text() == "2 warnings"
    assert not folded.locator("li").first.is_visible()
    folded.locator("summary").click()
    assert folded.locator("li").first.is_visible()
    assert folded.locator("li").all_text_contents() == [
        "3 of 9 answers failed validation",
        "date guessed",
    ]

    # An untitled article is headed by its first line, not its id.
    first_line = next(
        line.strip()
        for line in (SEEDS / f"{results[1].id}.txt").read_text(encoding="utf-8").splitlines()
        if line.strip()
    )
    heading = untitled.locator("h2").inner_text()
    assert heading != results[1].id
    assert first_line.startswith(heading.removesuffix("…"))

    TEST_OUTPUT.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    shot = TEST_OUTPUT / f"report-{width}.png"
    if width < 560:  # the first screens of the phone's long page
        page.screenshot(
            path=str(shot), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": 2400}
        )
    else:
        page.screenshot(path=str(shot))
    assert browser.errors == []


def test_report_without_texts_fits_a_phone(
    browser: Browser,  # noqa: F811  (the fixture)
    tmp_path: Path,
) -> None:
    """Without --inputs the items are laid out in a grid of cards: it must fit 390 px too."""
    _, out = make_report(tmp_path)
    page = browser.page
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto(out.as_uri())
    page.wait_for_function("document.querySelectorAll('#network canvas').length == 1")
    fits(page, 390)
    assert browser.errors == []
