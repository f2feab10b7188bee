"""Smoke tests of the speed sections of `python -m tools.bench` (tiny runs, no figures)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from p2pescrow.node.process import NodeBinaryNotFound, find_binary
from tools import bench, bench_cli, bench_speed


@pytest.mark.slow
def test_cli_section_reports_missing_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_cli, "find_cli", lambda: "/bin/false")
    monkeypatch.setattr(bench_cli, "REPEATS", 1)
    doc = bench_cli.run()
    assert doc["cli"]["trade_show"]["status"] == bench_cli.MISSING
    assert doc["cli"]["demo"]["status"] == bench_cli.MISSING
    assert doc["imports"]["p2pescrow"] is not None
    text = bench_cli.format_report(doc)
    assert "n/a (command missing)" in text


def test_only_rejects_unknown_sections() -> None:
    with pytest.raises(SystemExit):
        bench.main(["--only", "speed"])
    with pytest.raises(SystemExit):
        bench.main(["--only", "sdk", "--update-snapshot"])


@pytest.mark.anvil
@pytest.mark.slow
def test_sdk_section_on_anvil(monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    try:
        find_binary("anvil")
    except NodeBinaryNotFound as exc:
        pytest.skip(str(exc))
    tiny = bench_speed.SpeedConfig(trades=2, warmup=1, repeats=1, pipelined=5)
    monkeypatch.setattr(bench_speed, "SpeedConfig", lambda: tiny)
    assert bench.main(["--only", "sdk", "--json", "-"]) == 0
    doc = json.loads(capsys.readouterr().out)
    seq = doc["sdk"]["sequential"]
    assert seq["sdk"]["gas_per_trade"] == seq["web3"]["gas_per_trade"]  # the same transactions
    pipe = doc["sdk"]["pipelined"]
    assert seq["sdk"]["tx_per_s"] > 0 and pipe["web3"]["tx_per_s"] > 0 and pipe["web3_async"]["tx_per_s"] > 0
    assert seq["sdk"]["rpc_per_trade"] < seq["web3"]["rpc_per_trade"]  # 9 (4 + 5) against web3's ~14
    assert seq["ratio"] > 0 and pipe["ratio"] > 0 and seq["target"] == pipe["target"] == 0.9
    report = bench_speed.format_report(doc["sdk"])
    assert "Pipelined" in report and report.count("target >= 0.9x") == 2


def test_the_bare_path_has_no_middleware() -> None:
    """web3's validation middleware asks eth_chainId around every call and estimate; the SDK drops
    it, so the bare path the SDK is held to must not carry it (nor any other) either."""
    assert list(bench_speed.bare_web3("http://127.0.0.1:1").middleware_onion) == []


@pytest.mark.anvil
@pytest.mark.slow
@pytest.mark.parametrize("section", ["sdk", "cli"])
def test_the_bench_writes_nothing_in_the_user_s_config_folder(section: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The bench deploys and trades in its own process (the SDK rows; the trade the CLI's reads
    show), and the SDK journals every signed transaction under the config folder: a bench run
    from a shell without P2PESCROW_HOME keeps it in its throwaway folder, not in ~/.config."""
    try:
        find_binary("anvil")
    except NodeBinaryNotFound as exc:
        pytest.skip(str(exc))
    user = tmp_path / "user"
    user.mkdir()
    monkeypatch.setenv("HOME", str(user))  # Path.home(): the user's ~/.config/p2pescrow is under it
    for name in ("P2PESCROW_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    if section == "sdk":
        doc = bench_speed.run(bench_speed.SpeedConfig(trades=1, warmup=1, repeats=1, pipelined=2))
        assert doc["sequential"]["sdk"]["tx_per_s"] > 0
    else:  # the reads' trade is made in this process; the timed commands are not run
        monkeypatch.setattr(bench_cli, "find_cli", lambda: "p2pescrow")
        monkeypatch.setattr(bench_cli, "_has", lambda cli, words, env: words[0] != "demo")
        monkeypatch.setattr(bench_cli, "_median", lambda *args, **kwargs: {"ms": 1.0, "status": "ok"})
        monkeypatch.setattr(bench_cli, "measure_imports", lambda env: {})
        doc = bench_cli.run()
        assert doc["cli"]["trade_show"]["status"] == "ok"
    assert not (user / ".config").exists()
    assert "P2PESCROW_HOME" not in os.environ  # as it was
