"""Take docs/flower.png: Flower's dashboard (workers) and task list, one above the other.

.venv/bin/python docs/flower_screenshot.py http://127.0.0.1:5555 [--auth user:password]
Needs the ``docs`` extra (Playwright) and Debian's chromium; a stack with finished jobs.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parent / "flower.png"
CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright's own browser download is not used
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGES = ("/", "/tasks")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--auth", help="user:password of STYLIZE_FLOWER_BASIC_AUTH")
    args = parser.parse_args()
    credentials = None
    if args.auth:
        user, _, password = args.auth.partition(":")
        credentials = {"username": user, "password": password}
    shots = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(
            viewport={"width": 1280, "height": 640}, http_credentials=credentials
        )
        for path in PAGES:
            page.goto(args.url.rstrip("/") + path, wait_until="networkidle")
            shots.append(Image.open(io.BytesIO(page.screenshot(full_page=True))))
        browser.close()
    sheet = Image.new("RGB", (shots[0].width, sum(shot.height for shot in shots)), "white")
    top = 0
    for shot in shots:
        sheet.paste(shot, (0, top))
        top += shot.height
    sheet.save(OUT, optimize=True)
    print(OUT)


if __name__ == "__main__":
    main()
