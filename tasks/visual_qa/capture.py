"""One Playwright page load per viewport (Debian's Chromium via `executable_path`):
above-the-fold and full-page screenshots, shared by every persona of that viewport, and
the deterministic probes on the same load."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from luna.errors import ToolMissingError
from luna.settings import LunaSettings
from tasks.audit.browser import CHROME_FLAGS, axe_path, chromium_path
from tasks.visual_qa.model import Capture, PageProbe
from tasks.visual_qa.personas import VIEWPORTS
from tasks.visual_qa.probes import AXE_RUN, DOM_PROBE, axe_findings, dom_findings, load_findings

MAX_FULL_HEIGHT = 6000  # px; taller pages are cropped (the model API caps an image at 8000 px)
LOAD_TIMEOUT_MS = 30_000
PROBE_VIEWPORTS = ("desktop", "mobile")  # probes need both: DOM checks on desktop, overflow on mobile
# Playwright device whose user agent a viewport sends (Chrome on Android), so that sites
# that pick their layout by user agent serve the phone/tablet version.
DEVICE_FOR = {"mobile": "Pixel 7", "tablet": "Galaxy Tab S4"}


def viewports_needed(wanted: Iterable[str]) -> list[str]:
    needed = set(wanted) | set(PROBE_VIEWPORTS)
    return [v for v in VIEWPORTS if v in needed]


async def capture_page(
    url: str, viewports: Iterable[str], run_dir: Path, settings: LunaSettings
) -> tuple[list[Capture], PageProbe]:
    """Screenshots for each viewport in `run_dir/screens/` and the probe results.
    A page that does not load gives no captures and `probe.load_error`; a missing browser
    raises ToolMissingError."""
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import async_playwright

    screens = run_dir / "screens"
    screens.mkdir(parents=True, exist_ok=True)
    probe = PageProbe()
    captures: list[Capture] = []
    axe_source = axe_path().read_text(encoding="utf-8")
    chrome = chromium_path(settings)
    async with async_playwright() as pw:
        try:
            browser = await pw.chromium.launch(executable_path=chrome, args=list(CHROME_FLAGS[1:]))
        except PlaywrightError as exc:
            raise ToolMissingError(
                f"Chromium at {chrome} did not start: {str(exc).splitlines()[0]}",
                tip="apt-get install chromium, or set LUNA_CHROMIUM",
            ) from None
        try:
            for name in viewports_needed(viewports):
                device = pw.devices.get(DEVICE_FOR.get(name, ""), {})
                shot = await _one_viewport(browser, url, name, screens, probe, axe_source, device.get("user_agent"))
                if shot is None:
                    break  # the page did not load: the other viewports would not either
                captures.append(shot)
        finally:
            await browser.close()
    return captures, probe


async def _one_viewport(
    browser: Any, url: str, name: str, screens: Path, probe: PageProbe, axe_source: str, user_agent: str | None
) -> Capture | None:
    from playwright.async_api import Error as PlaywrightError

    vp = VIEWPORTS[name]
    context = await browser.new_context(
        viewport={"width": vp.width, "height": vp.height},
        device_scale_factor=1,
        is_mobile=vp.mobile,
        has_touch=vp.mobile,
        user_agent=user_agent,
        bypass_csp=True,  # lets axe-core be injected into pages with a strict CSP
    )
    console: list[str] = []
    failed: list[str] = []
    page = await context.new_page()
    page.on("console", lambda m: console.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: console.append(f"uncaught exception: {e}"))
    page.on("requestfailed", lambda r: failed.append(f"{r.method} {r.url}: {r.failure or 'failed'}"))
    page.on(
        "response", lambda r: failed.append(f"{r.request.method} {r.url}: HTTP {r.status}") if r.status >= 400 else None
    )
    try:
        try:
            response = await page.goto(url, wait_until="load", timeout=LOAD_TIMEOUT_MS)
        except PlaywrightError as exc:
            probe.load_error = str(exc).splitlines()[0]
            return None
        if response is not None and response.status >= 400:
            probe.load_error = f"HTTP {response.status} from {url}"
            return None
        with contextlib.suppress(PlaywrightError):  # a page that keeps polling is still captured
            await page.wait_for_load_state("networkidle", timeout=5000)
        fold, full, height, cropped = await _screenshots(page, name, screens)
        await _probe(page, name, probe, axe_source, console, failed)
        return Capture(
            viewport=name,
            width=vp.width,
            height=vp.height,
            full=str(full.relative_to(screens.parent)),
            fold=str(fold.relative_to(screens.parent)),
            page_height=height,
            cropped=cropped,
            user_agent=str(await page.evaluate("() => navigator.userAgent")),
        )
    finally:
        await context.close()


async def _screenshots(page: Any, name: str, screens: Path) -> tuple[Path, Path, int, bool]:
    """Above-the-fold and full-page screenshots: (fold, full, page height, whether cropped)."""
    fold = screens / f"{name}-fold.png"
    full = screens / f"{name}-full.png"
    await page.screenshot(path=str(fold), full_page=False)
    height = int(await page.evaluate("() => document.documentElement.scrollHeight"))
    cropped = height > MAX_FULL_HEIGHT
    if cropped:
        width = int(await page.evaluate("() => document.documentElement.scrollWidth"))
        await page.screenshot(
            path=str(full), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": MAX_FULL_HEIGHT}
        )
    else:
        await page.screenshot(path=str(full), full_page=True)
    return fold, full, height, cropped


async def _probe(
    page: Any, name: str, probe: PageProbe, axe_source: str, console: list[str], failed: list[str]
) -> None:
    """The deterministic probes on the loaded page, added to `probe`: DOM checks (layout only
    off desktop), axe-core on desktop, and the console errors and failed requests not seen yet."""
    dom = await page.evaluate(DOM_PROBE)
    if name == "desktop":
        probe.findings += dom_findings(dom, name)
        await page.add_script_tag(content=axe_source)
        violations = await page.evaluate(AXE_RUN)
        probe.axe_violations = len(violations)
        probe.findings += axe_findings(violations, name)
    else:
        probe.findings += dom_findings(dom, name, layout_only=True)
    new_console = [c for c in dict.fromkeys(console) if c not in probe.console_errors]
    new_failed = [f for f in dict.fromkeys(failed) if f not in probe.failed_requests]
    probe.console_errors += new_console
    probe.failed_requests += new_failed
    probe.findings += load_findings(new_console, new_failed, name)
