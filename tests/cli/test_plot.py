"""`market stats --plot FILE` and `rep show --plot FILE` on a real Anvil, run as the other CLI tests run
commands: the PNG carries the figures it draws (a JSON text chunk) and they are the figures
`market stats --json` prints; the SVG keeps its numbers as text; the address chart's last score is the
score `rep show` prints. Bad file names, a missing matplotlib and a missing index are one line, exit 2,
before any work."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from support.escrow_cli import DEV, Chain, Cli, one_error_line

from p2pescrow.market.charts import png_figures


@pytest.fixture(scope="module")
def history(deployed_anvil: Chain) -> dict[str, Any]:
    """dev2 sells to dev1 twice (recorded, released, rated 5 then 3), once to dev3 (refunded); the index synced."""
    cli = Cli(deployed_anvil)
    rated = []
    for amount, score in (("0.1", "5"), ("0.3", "3")):
        trade = cli.create("dev2", amount)
        cli.ok("trade", "accept", trade, account="dev2")
        cli.ok("trade", "release", trade)
        cli.ok("rep", "rate", trade, score)
        rated.append(trade)
    refunded = cli.create("dev2", "0.2", account="dev3")
    cli.ok("trade", "accept", refunded, account="dev2")
    cli.ok("trade", "refund", refunded, account="dev2")
    cli.ok("market", "sync", account=None)
    return {"rated": rated, "refunded": refunded}


def test_market_stats_plot_png_shows_the_figures_of_market_stats_json(cli: Cli, history: dict[str, Any],
                                                                     tmp_path: Path) -> None:
    out = tmp_path / "market.png"
    result = cli.ok("market", "stats", "--plot", str(out), account=None)
    assert f"written to {out}" in result.stdout
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    drawn = png_figures(out)
    assert drawn["chart"] == "market"
    figures = drawn["figures"]
    stats = cli.json("market", "stats", account=None)["stats"]
    assert figures["trades"] == stats["trades"] >= 3
    assert figures["outcomes"]["outcomes"] == stats["outcomes"] and stats["outcomes"]["released"] >= 2
    assert figures["disputes"] == {"funded": stats["funded"], "disputed": stats["disputed"],
                                   "dispute_rate": stats["dispute_rate"]}
    assert figures["release"] == {"release_seconds_median": stats["release_seconds_median"],
                                  "release_seconds_p90": stats["release_seconds_p90"]}
    drawn_volume = [(s["token"], p["period"], int(p["volume_base_units"]), p["trades"])
                    for s in figures["volume"]["series"] for p in s["points"]]
    json_volume = [(p["token"], p["period"], int(p["volume"]), p["trades"]) for p in stats["volume_by_day"]]
    assert sorted(drawn_volume) == sorted(json_volume) and json_volume
    eth = next(s for s in figures["volume"]["series"] if s["token"] == "0x" + "00" * 20)
    assert eth["symbol"] == "ETH"
    for point in eth["points"]:  # drawn in ETH, exactly the base units over 10^18
        assert Decimal(point["volume"]) == Decimal(point["volume_base_units"]) / 10**18
    assert [a["arbiter"] for a in figures["arbiters"]["arbiters"]] == [a["arbiter"] for a in stats["arbiters"]]


def test_market_stats_plot_svg_keeps_the_numbers_as_text(cli: Cli, history: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "market.svg"
    document = cli.json("market", "stats", "--plot", str(out), account=None)
    assert document["plot"] == str(out)
    svg = out.read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "<text" in svg and "glyph" not in svg  # text as text, not paths
    for outcome, count in document["stats"]["outcomes"].items():
        assert f">{outcome.replace('_', ' ')}</text>" in svg and f">{count}</text>" in svg


def test_rep_show_plot_draws_the_address_score_and_volume_over_time(cli: Cli, history: dict[str, Any],
                                                                    tmp_path: Path) -> None:
    out = tmp_path / "dev2.png"
    document = cli.json("rep", "show", DEV["dev2"], "--plot", str(out), account=None)["reputation"]
    figures = png_figures(out)["figures"]
    assert figures["address"] == DEV["dev2"]
    assert figures["score"] == str(document["screening"]["score"])
    assert figures["score_history"][-1]["score"] == figures["score"]
    ratings = [r["rating"] for r in figures["ratings"]]
    assert ratings[-2:] == [5, 3]
    [eth] = [s for s in figures["volume"] if s["symbol"] == "ETH"]
    volumes = [Decimal(p["volume"]) for p in eth["points"]]
    assert volumes == sorted(volumes) and volumes[-1] >= Decimal("0.6")  # cumulative: 0.1 + 0.3 + 0.2 at least
    text = cli.ok("rep", "show", DEV["dev2"], "--plot", str(tmp_path / "dev2.svg"), account=None).stdout
    assert f"written to {tmp_path / 'dev2.svg'}" in text
    assert "Score over time" in (tmp_path / "dev2.svg").read_text()


@pytest.mark.parametrize("name", ["market.gif", "market", "no-such-folder/market.png"])
def test_a_plot_file_it_cannot_write_is_one_line_before_any_work(cli: Cli, tmp_path: Path, name: str) -> None:
    result = cli("market", "stats", "--plot", str(tmp_path / name), account=None, rpc_url="http://127.0.0.1:9")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "chart" in line and ("png" in line or "no folder" in line)


def test_rep_show_plot_without_an_index_says_to_sync_first(cli: Cli, anvil_home: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = tmp_path / "home"  # the deployment known, no market index made yet
    fresh.mkdir()
    shutil.copy(anvil_home / "deployments.json", fresh / "deployments.json")
    monkeypatch.setenv("P2PESCROW_HOME", str(fresh))
    result = cli("rep", "show", DEV["dev4"], "--plot", str(tmp_path / "dev4.png"), account=None,
                 rpc_url="http://127.0.0.1:9")  # no node: said before any work
    assert result.exit_code == 2
    assert "there is none yet" in one_error_line(result) and "market sync" in result.stderr
    assert not (tmp_path / "dev4.png").exists()


@pytest.mark.parametrize("argv", [("market", "stats", "--plot", "out.png"),
                                  ("rep", "show", "0x" + "11" * 20, "--plot", "out.svg")])
def test_without_matplotlib_it_says_what_to_install(argv: tuple[str, ...], tmp_path: Path) -> None:
    """In a fresh interpreter where matplotlib cannot be imported (a base install)."""
    code = ("import sys\nsys.modules['matplotlib'] = None\n"
            "from p2pescrow.cli import main\n"
            f"sys.argv = ['p2pescrow', '--rpc-url', 'http://127.0.0.1:9', *{argv!r}]\nmain()\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("P2PESCROW_")}
    env["P2PESCROW_HOME"] = str(tmp_path / "home")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == "", done.stdout + done.stderr
    assert done.stderr.strip() == ("error: drawing charts needs the 'charts' extra (missing: matplotlib): "
                                   "pip install 'p2pescrow[charts]'")
    assert not (tmp_path / argv[-1]).exists()
