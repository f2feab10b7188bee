"""Gas regression guard: no path or operation may cost more than tests/gas_snapshot.json says, and no
path more than the v2 issue's bound (issue 12, item 7: ``tools.bench.BOUNDS`` and the reputation
add-on bound).

Runs the benchmark's own measurement (:func:`tools.bench.measure`) on the embedded py-evm chain,
with Anvil's dev accounts and chain id 31337, so that every transaction carries the same calldata
as under ``python -m tools.bench`` on Anvil (the EIP-712 / EIP-2612 signatures depend on the
chain id). The figures agree exactly between py-evm and Anvil (checked by
``test_the_snapshot_is_what_this_chain_measures``: a snapshot written from an Anvil run).

A figure that went down passes (and is printed): refresh the snapshot with
``python -m tools.bench --update-snapshot`` so the gain is locked in.
"""

from __future__ import annotations

import json

import pytest
from eth_tester import EthereumTester, PyEVMBackend
from web3 import EthereumTesterProvider, Web3

from p2pescrow.node.process import TEST_MNEMONIC, dev_accounts
from tools.bench import (
    BOUNDS,
    REPUTATION_ADDON_BOUND,
    REPUTATION_BOUND_PATH,
    SNAPSHOT_PATH,
    STATED,
    BenchTarget,
    Measurement,
    bound,
    measure,
    over_bound,
    readme_table,
)

ANVIL_CHAIN_ID = 31337
UPDATE = "python -m tools.bench --update-snapshot"

#: The issue's keys (item 7), all in the snapshot.
ISSUE_KEYS = (*BOUNDS, f"{REPUTATION_BOUND_PATH}_with_reputation", *STATED)


def _embedded_target() -> BenchTarget:
    backend = PyEVMBackend.from_mnemonic(TEST_MNEMONIC, num_accounts=10, hd_path="m/44'/60'/0'/0")
    # py-evm's tester chain has a fixed chain id; the tester builds a fresh chain class per backend,
    # so setting it there changes CHAINID (and tx signing) for this chain only.
    type(backend.chain).chain_id = ANVIL_CHAIN_ID
    tester = EthereumTester(backend)
    w3 = Web3(EthereumTesterProvider(tester))

    def increase_time(seconds: int) -> None:
        tester.time_travel(int(w3.eth.get_block("latest")["timestamp"]) + seconds)

    return BenchTarget(w3, dev_accounts(), increase_time, "py-evm")


def _snapshot() -> dict[str, int]:
    snapshot: dict[str, int] = json.loads(SNAPSHOT_PATH.read_text(encoding="utf-8"))
    return snapshot


@pytest.fixture(scope="module")
def measured() -> Measurement:
    return measure(_embedded_target())


def _diff(snapshot: dict[str, int], figures: dict[str, int]) -> list[str]:
    lines = []
    for name in sorted(set(snapshot) | set(figures)):
        old, new = snapshot.get(name), figures.get(name)
        if old != new:
            change = "" if old is None or new is None else f"{new - old:+,}"
            lines.append(f"  {name:40} {old if old is not None else '-':>9} -> "
                         f"{new if new is not None else '-':>9} {change}")
    return lines


def _over(figures: dict[str, int]) -> str:
    return ", ".join(f"{name} {gas:,} > {limit:,} (+{gas - limit:,})"
                     for name, (gas, limit) in sorted(over_bound(figures).items()))


@pytest.mark.slow
def test_no_figure_rises_above_the_snapshot(measured: Measurement) -> None:
    snapshot = _snapshot()
    figures = measured.flat()
    diff = _diff(snapshot, figures)
    if diff:
        print("gas snapshot diff (snapshot -> measured):", *diff, sep="\n")
    risen = {n: (snapshot[n], g) for n, g in figures.items() if n in snapshot and g > snapshot[n]}
    missing = sorted(set(snapshot) - set(figures))
    unknown = sorted(set(figures) - set(snapshot))
    problems = []
    if risen:
        problems.append("gas rose: " + ", ".join(f"{n} {o:,} -> {g:,} (+{g - o:,})"
                                                 for n, (o, g) in sorted(risen.items())))
    if missing:
        problems.append(f"no longer measured: {', '.join(missing)} (run `{UPDATE}`)")
    if unknown:
        problems.append(f"not in the snapshot: {', '.join(unknown)} (run `{UPDATE}`)")
    assert not problems, "\n".join(problems) + "\n" + "\n".join(diff)


@pytest.mark.slow
def test_every_path_is_within_the_issue_bound(measured: Measurement) -> None:
    figures = measured.flat()
    assert not over_bound(figures), f"over the issue's bound: {_over(figures)}"


def test_the_snapshot_is_within_the_issue_bounds() -> None:
    """The committed figures (an Anvil run of `make bench`) meet every bound."""
    snapshot = _snapshot()
    assert not over_bound(snapshot), f"over the issue's bound in {SNAPSHOT_PATH.name}: {_over(snapshot)}"


def test_a_path_dearer_than_its_bound_is_reported() -> None:
    figures = {"eth_happy_path": BOUNDS["eth_happy_path"] + 1, "eth_refund_path": BOUNDS["eth_refund_path"],
               REPUTATION_BOUND_PATH: 120_000,
               f"{REPUTATION_BOUND_PATH}_with_reputation": 120_000 + REPUTATION_ADDON_BOUND + 1}
    assert over_bound(figures) == {
        "eth_happy_path": (BOUNDS["eth_happy_path"] + 1, BOUNDS["eth_happy_path"]),
        f"{REPUTATION_BOUND_PATH}_with_reputation": (120_000 + REPUTATION_ADDON_BOUND + 1,
                                                      120_000 + REPUTATION_ADDON_BOUND),
    }
    assert bound("offer_publish", figures) is None  # stated, not bounded


def test_snapshot_covers_every_path_and_is_sorted() -> None:
    text = SNAPSHOT_PATH.read_text(encoding="utf-8")
    snapshot = json.loads(text)
    assert list(snapshot) == sorted(snapshot)
    assert all(isinstance(v, int) and v > 21_000 for v in snapshot.values())
    for path in ISSUE_KEYS:
        assert path in snapshot
    for op in ("create", "fund", "createAndFund", "release", "release_partial", "refund", "cancel",
               "markDelivered", "proposeSettlement", "acceptSettlement", "dispute", "rule", "concede",
               "resolveExpiredDispute", "timeout", "submitEvidence", "fillOffer", "fillOfferWithPermit",
               "publishOffer", "revokeOffer", "accept", "depositBond", "withdrawBond", "withdraw",
               "sweepFees", "rate"):
        assert f"op.{op}" in snapshot


def test_readme_gas_table_is_the_snapshot() -> None:
    """README's Gas table says what the snapshot holds (refresh it with `python -m tools.bench --readme`)."""
    readme = (SNAPSHOT_PATH.parent.parent / "README.md").read_text(encoding="utf-8")
    gas_section = readme.split("\n## Gas\n", 1)[1].split("\n## ", 1)[0]
    assert readme_table(_snapshot()) in gas_section
