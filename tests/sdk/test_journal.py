"""The journal's files, without a node: one folder per node identity (chain id and genesis hash),
entries of the earlier chain-id-only layout still read, each entry complete on disk before the
broadcast it precedes."""

from __future__ import annotations

import json
from pathlib import Path

from p2pescrow.transport.journal import Entry, Journal, node_folder

ACCOUNT = "0x" + "11" * 20
NODE_A = "0x" + "aa" * 32
NODE_B = "0x" + "bb" * 32


def entry(nonce: int, genesis: str = "", chain_id: int = 31337) -> Entry:
    return Entry(chain_id=chain_id, account=ACCOUNT, nonce=nonce, tx_hash="0x" + f"{nonce:064x}", raw="0x02",
                 to=ACCOUNT, data="0x", value=1, gas=21_000, max_fee_per_gas=2, max_priority_fee_per_gas=1,
                 genesis=genesis)


def test_a_node_folder_is_its_chain_id_and_genesis_hash():
    assert node_folder(31337, NODE_A) == "31337-" + "aa" * 8
    assert node_folder(31337) == "31337"  # the earlier layout


def test_entries_are_kept_per_node_and_the_earlier_layout_is_read_by_every_node_of_its_chain(tmp_path: Path):
    journal = Journal(tmp_path)
    on_a, on_b, legacy, elsewhere = entry(1, NODE_A), entry(2, NODE_B), entry(3), entry(4, NODE_A, chain_id=1)
    for e in (on_a, on_b, legacy, elsewhere):
        journal.record(e, track=False)

    assert journal.entries(31337, ACCOUNT, genesis=NODE_A) == [on_a, legacy]
    assert journal.entries(31337, ACCOUNT, genesis=NODE_B) == [on_b, legacy]
    assert journal.entries(31337, ACCOUNT) == [on_a, on_b, legacy]  # every node of the chain id
    assert journal.entries() == [elsewhere, on_a, on_b, legacy]
    assert journal.find(on_b.tx_hash, 31337, NODE_A) is None
    assert journal.find(legacy.tx_hash, 31337, NODE_A) == legacy

    journal.finish(legacy.tx_hash, 31337, ACCOUNT, NODE_B)
    journal.finish(on_a)
    assert journal.entries(31337, ACCOUNT) == [on_b]


def test_an_entry_is_complete_on_disk_when_record_returns(tmp_path: Path):
    journal = Journal(tmp_path)
    recorded = journal.record(entry(5, NODE_A), track=False)
    folder = tmp_path / node_folder(31337, NODE_A) / ACCOUNT
    files = sorted(p.name for p in folder.iterdir())
    assert files == [f"{5:08d}-{recorded.tx_hash}.json"]  # no temporary file left behind
    assert Entry(**json.loads((folder / files[0]).read_text())) == recorded
    journal.flush()  # the background flush of the file and its folder has run
    journal.finish(recorded)
    journal.flush()  # and one for an entry already gone is a no-op
    assert list(folder.iterdir()) == []
