"""Render a JS-built page in headless Chromium (Playwright) and return its DOM as HTML.

Used for sources with `render_js = true`. Chromium is Debian's (/usr/bin/chromium; `playwright install` cannot
download browsers here). One browser per call: simple and leak-free; batch callers can keep their own.
"""

from __future__ import annotations

from playwright.async_api import Error as AsyncPlaywrightError
from playwright.async_api import async_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from newsmirror.errors import FetchError

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
SETTLE_MS = 2000  # after "load", wait at most this long for the network to go quiet


def render_page(url: str, *, timeout: float = 30.0, user_agent: str | None = None) -> str:
    """The rendered DOM of `url` as HTML; FetchError(url, reason) if the browser cannot load it.
    Synchronous: call from a worker thread when inside an event loop (or use render_page_async)."""
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True)
            try:
                page = browser.new_page(user_agent=user_agent)
                response = page.goto(url, wait_until="load", timeout=timeout * 1000)
                _check(url, response)
                try:
                    page.wait_for_load_state("networkidle", timeout=min(SETTLE_MS, timeout * 1000))
                except PlaywrightError:
                    pass  # a page that keeps polling still has a usable DOM
                return page.content()
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise FetchError(url, f"browser: {str(exc).splitlines()[0]}", retryable=True) from exc


async def render_page_async(url: str, *, timeout: float = 30.0, user_agent: str | None = None) -> str:
    """`render_page` for async callers."""
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True)
            try:
                page = await browser.new_page(user_agent=user_agent)
                response = await page.goto(url, wait_until="load", timeout=timeout * 1000)
                _check(url, response)
                try:
                    await page.wait_for_load_state("networkidle", timeout=min(SETTLE_MS, timeout * 1000))
                except AsyncPlaywrightError:
                    pass
                return await page.content()
            finally:
                await browser.close()
    except AsyncPlaywrightError as exc:
        raise FetchError(url, f"browser: {str(exc).splitlines()[0]}", retryable=True) from exc


def _check(url: str, response) -> None:
    if response is not None and response.status >= 400:
        raise FetchError(url, f"HTTP {response.status}", status=response.status, retryable=response.status >= 500)
