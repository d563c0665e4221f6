"""Screenshot one page in Debian's Chromium (how docs/images/*.png were made).

    .venv/bin/python scripts/report_screenshot.py URL OUT.png [--width 1280] [--height 900]
        [--wait TEXT] [--full]

--wait waits until TEXT is visible (the Prefect UI renders after its API calls).
"""

from __future__ import annotations

import argparse
import shutil

from playwright.sync_api import sync_playwright


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("out")
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=900)
    p.add_argument("--wait", help="text to wait for")
    p.add_argument("--full", action="store_true", help="the whole page, not the viewport")
    args = p.parse_args()
    chromium = shutil.which("chromium")
    if not chromium:
        raise SystemExit("Debian's chromium is needed: apt-get install chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.goto(args.url, wait_until="load", timeout=60_000)
        if args.wait:
            page.get_by_text(args.wait, exact=False).first.wait_for(timeout=60_000)
        page.wait_for_timeout(1000)
        page.screenshot(path=args.out, full_page=args.full)
        browser.close()


if __name__ == "__main__":
    main()
