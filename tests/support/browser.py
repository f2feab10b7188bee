"""A real browser for the page tests (tests/browser) and ``make screenshots``: Debian's Chromium
(``/usr/bin/chromium``, the ``chromium`` package) driven by Playwright's Python package through
``executable_path`` (Playwright's own browser download is not used).

Chromium starts headless with the flags of TOOLCHAIN.md ("Browser tests": without the
background-networking ones it floods the closed network) and a fresh, empty user-data folder of its own
(Playwright's persistent context over a temporary folder: no profile, cookie or cache of an earlier run).

A missing Chromium is a failure, never a skip: :func:`require_chromium` fails the test with one line
naming the package (``make test`` installs it first when it can: see the Makefile's ``chromium``).

- :func:`chromium` (context manager): the browser context; :class:`Watch` records what a page must never do
  (console errors, uncaught exceptions, dialogs, Content-Security-Policy violations).
- :data:`DESKTOP` and :data:`PHONE`: the two widths every page is checked at.
- :func:`horizontal_overflow`: how many CSS pixels a page is wider than its viewport (0 when it fits).
- :func:`save_screenshot`: a full-page PNG under ``.build/screenshots/`` (kept as test output).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, ConsoleMessage, Dialog, Locator, Page

#: Where Debian's ``chromium`` package installs the browser.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_PACKAGE = "chromium"
#: TOOLCHAIN.md's flags (``--user-data-dir`` is Playwright's: the persistent context's folder).
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync")
#: How long an action (a click, a wait for an element, a page load) may take before it fails: the pages are
#: local, but the market page draws its charts per request and the suite shares two cores (Playwright's default
#: is 30 s, which only slows a failure down).
ACTION_TIMEOUT_MS = 20_000
#: Test output: one PNG per page, width and test (git ignores .build/).
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".build" / "screenshots"

#: A page's listener that turns every CSP violation into one console error naming it. Injected by Playwright
#: (the DevTools protocol), so the page's own CSP does not apply to it: it is no inline script of the page.
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.effectiveDirective} blocked ${event.blockedURI || "inline"}`);
});
"""


@dataclass(frozen=True)
class Viewport:
    name: str
    width: int
    height: int

    def size(self) -> dict[str, int]:
        return {"width": self.width, "height": self.height}


DESKTOP = Viewport("desktop", 1280, 800)
PHONE = Viewport("phone", 375, 740)
VIEWPORTS = (DESKTOP, PHONE)


class ChromiumMissing(RuntimeError):
    """No Chromium at /usr/bin/chromium, or no Playwright package: the message is the one line to print."""


def missing() -> str | None:
    """Why the browser cannot start (one line naming what to install), or None when it can."""
    if not os.access(CHROMIUM, os.X_OK):
        return (f"Chromium is missing ({CHROMIUM}): install Debian's `{CHROMIUM_PACKAGE}` package "
                f"(apt-get update && apt-get install -y {CHROMIUM_PACKAGE}, as root; `make test` does it when it can)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright's Python package is missing: pip install -e '.[dev]' (or pip install playwright)"
    return None


def require_chromium() -> None:
    """Fail (never skip) the calling test with one line when the browser cannot start."""
    import pytest

    reason = missing()
    if reason is not None:
        pytest.fail(reason, pytrace=False)


@contextmanager
def chromium(*, user_data_dir: Path | None = None) -> Iterator[BrowserContext]:
    """Debian's Chromium, headless, in a fresh user-data folder (a new temporary one unless given; it must be
    empty), as one Playwright browser context; closed (and the temporary folder removed) on exit."""
    reason = missing()
    if reason is not None:
        raise ChromiumMissing(reason)
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="p2pescrow-chromium-")) if user_data_dir is None else user_data_dir
    if any(folder.iterdir()):
        raise ValueError(f"the user-data folder {folder} is not empty: Chromium must start from a fresh one")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                folder, executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_FLAGS), viewport=DESKTOP.size())
            try:
                context.set_default_timeout(ACTION_TIMEOUT_MS)
                context.add_init_script(_CSP_LISTENER)
                yield context
            finally:
                context.close()
    finally:
        if user_data_dir is None:
            shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Watch:
    """What one page did that a sound page never does: console errors (Chromium logs every resource that
    failed to load and every CSP violation there), uncaught exceptions, and dialogs (``alert`` and the like;
    Playwright dismisses them)."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    @classmethod
    def on(cls, page: Page) -> Watch:
        watch = cls()
        page.on("console", watch._console)
        page.on("pageerror", lambda error: watch.page_errors.append(str(error)))
        page.on("dialog", watch._dialog)
        return watch

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            self.console_errors.append(f"{message.text} (at {message.location.get('url', '?')})")

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    @property
    def csp_violations(self) -> list[str]:
        return [e for e in self.console_errors if "CSP violation" in e or "Content Security Policy" in e]

    def problems(self) -> list[str]:
        return ([f"console error: {e}" for e in self.console_errors] + [f"uncaught: {e}" for e in self.page_errors]
                + [f"dialog opened: {d}" for d in self.dialogs])


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the document is wider than the viewport: 0 when there is no horizontal scroll."""
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def save_screenshot(page: Page, name: str, folder: Path = SCREENSHOTS) -> Path:
    """A full-page PNG ``<folder>/<name>.png``; the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path


class Tour:
    """One test's walk through a served site in one page of :func:`chromium`'s context, at one
    :class:`Viewport`: every page it arrives at is photographed (``<shots>/<name>-<n>-<label>.png``) and
    measured for horizontal scroll; :meth:`problems` lists what went wrong on any of them."""

    def __init__(self, context: BrowserContext, base_url: str, viewport: Viewport, name: str,
                 shots: Path = SCREENSHOTS) -> None:
        self.base_url = base_url.rstrip("/")
        self.viewport = viewport
        self.name = name
        self.shots = shots
        self.page = context.new_page()
        self.page.set_viewport_size(viewport.size())
        self.watch = Watch.on(self.page)
        self.overflows: list[str] = []
        self.screenshots: list[Path] = []

    def go(self, path: str) -> Page:
        """Open ``path`` (on the served site); it must answer 200; then :meth:`arrived`."""
        response = self.page.goto(self.base_url + path)
        assert response is not None and response.status == 200, \
            f"GET {path}: {response.status if response else 'no response'}"
        return self.arrived(path)

    def without_javascript(self) -> None:
        """From now on this tab runs no script at all (Chromium's DevTools switch), as a browser with JavaScript
        turned off."""
        session = self.page.context.new_cdp_session(self.page)
        session.send("Emulation.setScriptExecutionDisabled", {"value": True})

    def follow(self, target: Locator, label: str, *, key: str | None = None) -> Page:
        """Click ``target`` (or, with ``key``, press that key on it: the keyboard's way) and arrive where that
        leads; the new page must answer 200."""
        with self.page.expect_navigation() as navigation:
            if key is None:
                target.click()
            else:
                target.press(key)
        response = navigation.value
        assert response is not None and response.status == 200, \
            f"{label}: {response.status if response else 'no response'} from {self.page.url}"
        return self.arrived(label)

    def arrived(self, label: str) -> Page:
        """After a navigation (a link followed, a form sent): wait for the page, photograph it and measure it."""
        self.page.wait_for_load_state("load")
        overflow = horizontal_overflow(self.page)
        if overflow > 0:
            self.overflows.append(f"{self.page.url} is {overflow} px wider than the {self.viewport.name}'s "
                                  f"{self.viewport.width} px")
        slug = "".join(c if c.isalnum() else "-" for c in label.strip("/"))[:40].strip("-") or "home"
        self.screenshots.append(save_screenshot(
            self.page, f"{self.name}-{self.viewport.name}-{len(self.screenshots) + 1}-{slug}", self.shots))
        return self.page

    def path(self) -> str:
        """The current page's path and query (the served site's URL left out)."""
        return self.page.url.removeprefix(self.base_url)

    def problems(self) -> list[str]:
        return self.watch.problems() + [f"horizontal scroll: {o}" for o in self.overflows]

    def close(self) -> None:
        self.page.close()
