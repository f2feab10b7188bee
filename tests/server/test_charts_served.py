"""`p2pescrow --market-url URL market stats --plot FILE` against `p2pescrow serve`: the chart drawn from
the server's figures carries exactly what GET /api/stats answers (the CLI as a subprocess, no local
index); `rep show --plot` refuses a market server in one line (it draws from a local index)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from support.clitools import COMMAND
from support.server import ServedMarket, server_env

from p2pescrow.market.charts import png_figures


def run(served_market: ServedMarket, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, "--rpc-url", served_market.chain.url, "--market-url", served_market.url, *args],
                          env=server_env(served_market.home), capture_output=True, text=True, timeout=120)


def test_market_stats_plot_from_a_market_server_draws_the_servers_figures(served_market: ServedMarket,
                                                                          tmp_path: Path) -> None:
    out = tmp_path / "served.png"
    done = run(served_market, "--json", "market", "stats", "--plot", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["plot"] == str(out)
    figures = png_figures(out)["figures"]
    stats = served_market.get("/api/stats").json()
    assert figures["outcomes"]["outcomes"] == stats["outcomes"] and stats["outcomes"]
    assert figures["disputes"]["dispute_rate"] == stats["dispute_rate"]
    drawn = sorted((s["token"], p["period"], int(p["volume_base_units"]), p["trades"])
                   for s in figures["volume"]["series"] for p in s["points"])
    assert drawn == sorted((p["token"], p["period"], int(p["volume"]), p["trades"]) for p in stats["volume_by_day"])
    assert [a["arbiter"] for a in figures["arbiters"]["arbiters"]] == [a["arbiter"] for a in stats["arbiters"]]
    assert {s["symbol"] for s in figures["volume"]["series"]} == {"ETH"}  # symbols from the node it names


def test_rep_show_plot_with_a_market_server_is_one_line(served_market: ServedMarket, tmp_path: Path) -> None:
    seller = served_market.history.released["seller"]  # type: ignore[union-attr]
    done = run(served_market, "rep", "show", seller, "--plot", str(tmp_path / "seller.png"))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().startswith("error: rep show --plot draws from a local market index")
    assert not (tmp_path / "seller.png").exists()
