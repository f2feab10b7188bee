"""The CLI section of `make bench` says how each figure stands against its target, a miss included."""

from __future__ import annotations

from tools import bench_cli


def _doc(trade_show_ms: float | None, help_ms: float) -> dict:
    def timed(ms: float | None, key: str) -> dict:
        target = bench_cli.TARGETS.get(key)
        if ms is None:
            return {"ms": None, "status": "failed (exit 4): error: cannot reach the node", "target_ms": target}
        return {"ms": ms, "status": "ok", "target_ms": target,
                **({"meets_target": ms <= target} if target is not None else {})}

    cli = {"help": timed(help_ms, "help"), "trade_show": timed(trade_show_ms, "trade_show"),
           "trade_list": timed(400.0, "trade_list"), "rep_show": timed(300.0, "rep_show"),
           "demo": {"ms": 2000.0, "status": "ok"}}
    cli.update({key: {"ms": 20.0, "status": "ok"} for key, _, _ in bench_cli.CASTS})
    imports = {"python_startup_ms": 20.0, **{module: 100.0 for module in bench_cli.IMPORTS}}
    return {"repeats": 7, "imports": imports, "cli": cli}


def _line(text: str, label: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(label))


def test_a_missed_target_is_reported_with_its_figure() -> None:
    text = bench_cli.format_report(_doc(trade_show_ms=512.0, help_ms=90.0))

    assert "512 ms" in _line(text, "p2pescrow trade show") and "target <= 350 ms: NOT MET" in text
    assert "target <= 150 ms: met" in _line(text, "p2pescrow --help")
    assert "target <= 350 ms: met" in _line(text, "p2pescrow rep show")
    assert "target" not in _line(text, "p2pescrow trade list")  # no target: the figure alone


def test_a_read_that_failed_is_not_measured_rather_than_met() -> None:
    text = bench_cli.format_report(_doc(trade_show_ms=None, help_ms=90.0))

    line = _line(text, "p2pescrow trade show")
    assert "failed (exit 4)" in line and "not measured" in line and ": met" not in line
