"""Smoke tests of the speed sections of `python -m tools.bench` (tiny runs, no figures)."""

from __future__ import annotations

import json

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
    assert seq["sdk"]["tx_per_s"] > 0 and doc["sdk"]["pipelined"]["web3"]["tx_per_s"] > 0
    assert "Pipelined" in bench_speed.format_report(doc["sdk"])
