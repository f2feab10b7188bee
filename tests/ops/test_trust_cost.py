"""What faking one unit of reputation costs (p2pescrow.ops.trust, behind `p2pescrow rep cost`): a
recording self-trade measured on a replica of the deployment, priced at a gas price plus the
platform fee on the asset's minimum; nothing for a deployment that lists no asset."""

from __future__ import annotations

from decimal import Decimal

from p2pescrow.clients.sync import EscrowClient
from p2pescrow.ops import trust

GWEI = 10**9


def test_no_listed_asset_means_nothing_to_fake() -> None:
    assert trust.trust_cost(EscrowClient.embedded(), gas_price=GWEI) == []


def test_a_listed_asset_is_priced_by_its_cheapest_recording_self_trade() -> None:
    client = EscrowClient.embedded(platform_fee_bps=40)
    client.set_reputation_asset(None, min_amount="0.05")
    (eth,) = trust.trust_cost(client, gas_price=3 * GWEI)

    assert (eth.symbol, eth.minimum, eth.platform_fee_bps, eth.replica_token) == ("ETH", 5 * 10**16, 40, False)
    by_path = {p.path: p for p in eth.paths}
    offer, created = by_path[trust.OFFER_PATH], by_path[trust.CREATE_PATH]
    assert [label for label, _ in offer.steps] == ["fillOffer", "release", "rate", "rate"]
    assert [label for label, _ in created.steps] == ["createAndFund", "accept", "release", "rate", "rate"]
    assert eth.cheapest is offer and offer.gas < created.gas  # a signed offer is the seller's consent, for free
    assert eth.gas_cost == eth.gas * 3 * GWEI
    assert eth.platform_fee == 5 * 10**16 * 40 // 10_000  # exact here; rounded up in general
    assert eth.per_unit_eth == eth.gas_cost + eth.platform_fee
    assert eth.fee_rate == Decimal("0.004") and eth.gas_per_volume() == Decimal(eth.gas_cost) * 20
    document = trust.report([eth])["assets"][0]
    assert document["gas"] == eth.gas and document["platform_fee"] == "0.0002" and document["minimum"] == "0.05"


def test_a_token_is_replayed_with_a_standard_erc20_and_its_fee_is_in_the_token() -> None:
    client = EscrowClient.embedded()
    token, decimals = trust._replica_token(client, [client.address])
    client.set_reputation_asset(token, min_amount="10")
    (cost,) = trust.trust_cost(client, gas_price=GWEI)

    assert cost.asset == token and cost.replica_token and cost.per_unit_eth is None
    assert cost.minimum == 10 * 10**decimals and cost.platform_fee == -(-cost.minimum * 25 // 10_000)
    assert "approve" not in [label for label, _ in cost.cheapest.steps]  # one unlimited allowance, given once
