"""The web page at / in a real browser, against the real API and worker: upload the sample
images, see a field error and a refused non-image, watch the progress bar reach 100 % and the
result appear, cancel a second job. Screenshots go to out/browser/ (docs/ has two of them)."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Browser, Page, Request

from tests.support import REPO
from tests.support.stack import Stack

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.parametrize("stack", ["sqlite"], indirect=True),  # the page, not the DB
]

ROOT = REPO
EXAMPLES = ROOT / "examples"
SHOTS = ROOT / "out" / "browser"
WAIT_MS = 240_000  # a loaded 2-core machine runs VGG16 slowly

RECORD_BAR = """() => {
  window.barValues = [];
  const bar = document.querySelector('#bar');
  new MutationObserver(() => window.barValues.push(bar.value))
    .observe(bar, {attributes: true, attributeFilter: ['value']});
}"""


def error_for(page: Page, field: str) -> str:
    """The text of the error slot next to ``field``."""
    return page.locator(f'[data-error-for="{field}"]').inner_text()


def submit_and_wait_for_the_stream(page: Page) -> None:
    """Submit and wait until the page follows the new job."""
    page.click("#submit")
    page.wait_for_selector("#current:not([hidden])")


def until(page: Page, expression: str) -> None:
    """Wait until ``expression`` is true in the page. (Playwright's wait_for_function would
    ``eval`` it inside the page, which the page's Content-Security-Policy rightly forbids.)"""
    deadline = time.monotonic() + WAIT_MS / 1000
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"never true: {expression}"
        time.sleep(0.1)


def test_the_page_runs_cancels_and_explains(stack: Stack, api_url: str, browser: Browser) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    key = stack.headers["Authorization"].removeprefix("Bearer ")
    page = browser.new_page(viewport={"width": 1100, "height": 1000})
    page.set_default_timeout(WAIT_MS)
    posts: list[Request] = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
    refused: list[str] = []  # what the Content-Security-Policy blocked: must stay empty
    page.on("console", lambda m: refused.append(m.text) if "Security Policy" in m.text else None)
    page.goto(api_url + "/")

    # the key, entered once and kept by the browser
    page.fill("#api-key", key)
    page.click("#key-form button")
    page.reload()
    assert page.input_value("#api-key") == key

    # defaults and ranges come from /openapi.json
    # (iterations' default depends on max_size: it is left empty, and the server chooses)
    until(page, "document.querySelector('#iterations').placeholder === 'auto'")
    assert page.get_attribute("#iterations", "max") == "5000"
    assert page.input_value("#max_size") == "512"
    assert page.input_value("#iterations") == ""

    # a non-image is refused before any upload
    page.set_input_files(
        "#style", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hi"}]
    )
    page.wait_for_selector('[data-error-for="style"]:not(:empty)')
    assert "notes.txt is not an image" in error_for(page, "style")
    page.set_input_files("#content", str(EXAMPLES / "content-chelsea.jpg"))
    page.set_input_files("#style", str(EXAMPLES / "style-hubble.jpg"))
    page.wait_for_selector("#content-thumbs img")
    page.wait_for_selector("#style-thumbs img")
    assert error_for(page, "style") == ""

    # the API's field error shows next to the field, and nothing entered is lost
    page.fill("#iterations", "0")
    page.click("#submit")
    page.wait_for_selector('[data-error-for="iterations"]:not(:empty)')
    assert "greater than or equal to 1" in error_for(page, "iterations")
    assert "{" not in error_for(page, "iterations"), "no raw JSON"
    assert page.locator("#content-thumbs img").count() == 1
    assert page.input_value("#iterations") == "0" and page.is_hidden("#current")

    # a job runs: the bar moves and reaches 100 %, the result is shown full size
    page.fill("#iterations", "24")
    page.fill("#max_size", "128")
    page.evaluate(RECORD_BAR)
    submit_and_wait_for_the_stream(page)
    page.wait_for_selector("#result-box:not([hidden])")
    until(page, "document.querySelector('#result').naturalWidth > 0")
    values = page.evaluate("window.barValues")
    assert any(0 < value < 100 for value in values), values
    assert values[-1] == 100 and page.evaluate("document.querySelector('#bar').value") == 100
    assert page.inner_text("#job-status") == "succeeded"
    assert "iteration 24 of 24 · 100 %" in page.inner_text("#progress-text")
    assert page.evaluate("document.querySelector('#result').naturalWidth") == 128
    download = page.locator("#download")
    assert download.is_visible() and download.get_attribute("download", timeout=5000)
    page.wait_for_selector("#jobs li img")
    page.screenshot(path=str(SHOTS / "web-finished.png"), full_page=True)

    # a second, long job: a live preview appears, then it is canceled
    page.fill("#iterations", "2000")
    submit_and_wait_for_the_stream(page)
    page.wait_for_selector("#preview-box:not([hidden])")
    until(page, "document.querySelector('#preview').naturalWidth > 0")
    until(page, "/ETA \\d/.test(document.querySelector('#progress-text').textContent)")
    page.screenshot(path=str(SHOTS / "web-mid-job.png"), full_page=True)
    page.click("#cancel")
    until(
        page,
        "document.querySelector('#progress-text').textContent.startsWith('Canceled at iteration')",
    )
    assert page.inner_text("#job-status") == "canceled"
    assert [r.url.split("/v1/")[-1] for r in posts if "/cancel" in r.url] == [
        f"jobs/{page.evaluate('state.job.id')}/cancel"
    ]
    assert sum(r.url.endswith("/v1/jobs") for r in posts) == 3, "the refused file never went up"

    # phone width: nothing spills sideways; the form is usable by keyboard
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(SHOTS / "web-phone.png"), full_page=True)
    page.focus("#iterations")
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "submit":
            break
    assert page.evaluate("document.activeElement.id") == "submit"
    assert refused == [], "the page needs nothing its Content-Security-Policy forbids"
    page.close()
