"""Connecting by network name, and log scans that adapt to providers limiting eth_getLogs ranges."""

from __future__ import annotations

import pytest

from p2pescrow import EscrowClient, TradeState, errors
from p2pescrow.networks import Network, Networks
from p2pescrow.node.process import start_node
from p2pescrow.transport.logs import get_logs


@pytest.fixture(scope="module")
def anvil_node():
    with start_node("anvil") as node:
        yield node


def test_the_embedded_network_by_name_is_a_ready_chain():
    client = EscrowClient.from_network("embedded")
    buyer = client.as_account(client.dev_accounts[1])
    trade = buyer.create(seller=client.dev_accounts[2], amount="0.1")
    assert client.trade(trade.trade_id).state is TradeState.FUNDED


@pytest.mark.anvil
def test_a_user_network_with_another_chain_id_is_refused(anvil_node, tmp_path, monkeypatch):
    monkeypatch.setenv("P2PESCROW_HOME", str(tmp_path))
    Networks().add(Network("mistyped", anvil_node.url, 1))  # the node is chain 31337
    with pytest.raises(errors.WrongChain):
        EscrowClient.from_network("mistyped", anvil_node.accounts[0].address)


def test_an_unknown_network_name_says_how_to_add_one(tmp_path, monkeypatch):
    monkeypatch.setenv("P2PESCROW_HOME", str(tmp_path))
    with pytest.raises(errors.ConfigError, match="unknown network") as info:
        EscrowClient.from_network("nowhere")
    assert "networks add" in (info.value.hint or "")


class _RangeLimitedNode:
    """Stands in for a provider that refuses eth_getLogs ranges wider than `limit` blocks."""

    def __init__(self, limit: int, logs_at: list[int]) -> None:
        self.limit, self.logs_at, self.calls = limit, logs_at, []
        self.eth = self

    def get_logs(self, params):
        start, end = params["fromBlock"], params["toBlock"]
        self.calls.append((start, end))
        if end - start + 1 > self.limit:
            raise ValueError({"code": -32005, "message": f"query exceeds max block range {self.limit}"})
        return [{"blockNumber": b} for b in self.logs_at if start <= b <= end]


def test_log_scans_shrink_the_page_when_the_provider_limits_the_range_and_miss_nothing():
    node = _RangeLimitedNode(limit=1_000, logs_at=[5, 999, 1_000, 1_001, 25_000, 49_999])
    found = [log["blockNumber"] for log in get_logs(node, {}, 0, 50_000, page=10_000)]
    assert found == [5, 999, 1_000, 1_001, 25_000, 49_999]
    assert all(end - start + 1 <= 1_000 for start, end in node.calls[-5:])  # settled below the limit


def test_other_errors_are_not_mistaken_for_range_limits():
    class Broken(_RangeLimitedNode):
        def get_logs(self, params):
            raise ValueError("method not found")

    with pytest.raises(ValueError, match="method not found"):
        list(get_logs(Broken(10, []), {}, 0, 100))
