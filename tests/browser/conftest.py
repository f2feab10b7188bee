"""Fixtures of the browser suite (helpers in ``support/browser.py`` and ``support/server.py``):

- ``market_chain`` (module) and ``served_market`` (module): ``p2pescrow serve`` over an index of an Anvil
  market history (support/server.py);
- ``browser`` (module): Debian's Chromium in a fresh user-data folder, one Playwright browser context;
  a missing Chromium fails (one line naming the package), never skips; empties ``.build/screenshots/``;
- ``viewport``: desktop (1280x800) and phone (375x740): every test that takes ``tour`` runs at both;
- ``tour``: a fresh tab at ``viewport`` on the served market; after the test, every page it arrived at must
  have logged no console error or CSP violation, thrown nothing, opened no dialog and not scrolled sideways.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from support.browser import SCREENSHOTS, VIEWPORTS, Tour, Viewport, chromium, require_chromium
from support.market import market_chain  # noqa: F401 - fixtures
from support.server import ServedMarket, served_market  # noqa: F401 - fixtures

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Chromium for the module, in a fresh user-data folder (fails, never skips, when it is missing). The
    screenshots folder is emptied first: it holds the last run's pictures only."""
    require_chromium()
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    with chromium(user_data_dir=tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


@pytest.fixture(params=VIEWPORTS, ids=lambda v: v.name)
def viewport(request: pytest.FixtureRequest) -> Viewport:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def tour(browser: BrowserContext, viewport: Viewport, request: pytest.FixtureRequest) -> Iterator[Tour]:
    """A fresh tab at ``viewport`` on the served market; after the test, the pages it saw must have been sound."""
    served: ServedMarket = request.getfixturevalue("served_market")
    name = request.node.originalname.removeprefix("test_")[:48]
    walk = Tour(browser, served.url, viewport, name)
    yield walk
    problems = walk.problems()
    walk.close()
    if problems:
        pytest.fail("the pages misbehaved:\n" + "\n".join(problems), pytrace=False)
