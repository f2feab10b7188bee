"""``python -m tools.screenshots`` (``make screenshots``): README's pictures of the market's pages,
``docs/screenshots/offers.png`` (the offers page) and ``docs/screenshots/market.png`` (the market's
figures), taken in Debian's headless Chromium at desktop width (1280 px).

What it photographs is what the browser tests see: a fresh Anvil with the escrow deployed and the served
market's history made on it (trades that ended every way, open offers, the hostile listings whose titles
must show as text), a SQLite index of it, and ``p2pescrow serve`` on a free localhost port
(tests/support/server.py, tests/support/market.py); everything lives in a temporary folder and is stopped
after. A page that logs a console error, violates the Content-Security-Policy, opens a dialog or scrolls
sideways is not photographed: the command fails and says why. Chromium missing: one line naming the package.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
#: The pages README shows: file name -> path on the served site.
PAGES = {"offers.png": "/", "market.png": "/market"}

if TYPE_CHECKING:
    from support.market import MarketChain


@contextmanager
def fresh_market_chain() -> Iterator[MarketChain]:
    """What the test suite's ``market_chain`` fixture gives, outside pytest: a fresh Anvil (from node_modules,
    on PATH) with the escrow deployed."""
    from support.escrow import deploy_all
    from support.market import AnvilChain, IndexedDeployment, MarketChain

    from p2pescrow.node.process import start_node

    with start_node("anvil", chain_id=31337) as node:
        chain = AnvilChain(node)
        start = chain.w3.eth.block_number + 1
        d = deploy_all(chain)
        deployment = IndexedDeployment(chain.w3.eth.chain_id, d.escrow.address, d.reputation.address, start, 25)
        m = MarketChain(node, chain, d, deployment)
        two_weeks_of_trades(m)
        yield m


def two_weeks_of_trades(m: MarketChain, days: int = 14) -> None:
    """A market with a past, so the pictures have something to show: one to three ETH trades a day for
    ``days`` days (chain time moves on a day at a time), most released some hours after going live and
    rated, one refunded, two disputed and ruled by the arbiter."""
    from support.v2 import live

    d, chain = m.d, m.chain
    for day in range(days):
        for k in range(1 + day % 3):
            n = day * 3 + k
            buyer = d.buyer if n % 2 else d.stranger
            t = live(d, buyer=buyer, amount=(1 + n % 7) * 10**17)
            chain.set_next_timestamp(chain.now() + 3600 * (1 + n % 9))
            if day in (4, 10) and k == 0:
                m.send(d.escrow.functions.dispute(t), buyer)
                chain.set_next_timestamp(chain.now() + 3600 * (3 + day))
                m.send(d.escrow.functions.rule(t, 5000 if day == 4 else 10_000), d.arbiter)
            elif day == 7 and k == 0:
                m.send(d.escrow.functions.refund(t, t["amount"]), d.seller)
            else:
                m.send(d.escrow.functions.release(t, t["amount"]), buyer)
                m.send(d.escrow.functions.rate(t, 3 + n % 3, bytes([n % 256]) * 32), buyer)
        chain.set_next_timestamp(chain.now() + 86400)
        chain.mine()


def photograph(out: Path) -> list[Path]:
    """Serve the market, open each page of :data:`PAGES` in Chromium, and write its picture into ``out``."""
    from support.browser import DESKTOP, Tour, chromium
    from support.server import served

    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="p2pescrow-screenshots-") as scratch:
        folder = Path(scratch)
        os.environ["P2PESCROW_HOME"] = str(folder / "home")  # nothing of this run in the real config folder
        with fresh_market_chain() as m, served(m, folder) as market, chromium() as browser:
            tour = Tour(browser, market.url, DESKTOP, "readme", shots=folder / "shots")
            for name, path in PAGES.items():
                page = tour.go(path)
                problems = tour.problems()
                if problems:
                    raise SystemExit(f"error: {path} misbehaved in Chromium, no picture taken:\n" + "\n".join(problems))
                out.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=out / name, full_page=True)
                written.append(out / name)
            tour.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.screenshots", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write the pictures (default {OUT})")
    args = parser.parse_args(argv)
    if str(ROOT / "tests") not in sys.path:
        sys.path.insert(0, str(ROOT / "tests"))  # the test suite's helpers: `support.*`
    from support.browser import missing

    reason = missing()
    if reason is not None:
        print(f"error: {reason}", file=sys.stderr)
        return 1
    for path in photograph(args.out.resolve()):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
