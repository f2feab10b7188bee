"""What faking reputation costs on a deployment (``p2pescrow rep cost``).

One unit of reputation is one rated trade at a reputation asset's listed minimum (the SDK's score
weighs each asset's rated volume in those units). The cheapest way to fake one is a self-trade
between two addresses of one person that records and is rated both ways: the price goes back to
the faker, the gas and the platform fee do not. This module measures that self-trade's gas with the
SDK's own calls on a replica of the deployment in an embedded chain (the same contract code, the
same platform fee, the asset listed with the same minimum), and prices it:

- gas at a given gas price (default: the node's), plus the platform fee on the minimum;
- per unit of faked volume: the platform fee rate at any trade size, plus the gas over the minimum
  when the trades are as small as allowed.

Two ways to make a self-trade that records are measured (the seller's consent is what makes a trade
count) and the cheaper is the cost: the seller signs an offer that the buyer fills (fillOffer,
release, rate, rate), or the buyer creates and funds and the seller accepts (createAndFund, accept,
release, rate, rate). Each is run twice and the second run counts: a faker's repeated trades find
their records, nonce words and balances already written. ERC-20 assets are replayed with a standard
OpenZeppelin ERC-20 (the token's own transfers may cost more or less), the buyer having given the
escrow an unlimited allowance once (not counted: no approval per trade).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..clients.sync import EscrowClient

#: How the paths are named in reports.
OFFER_PATH = "signed offer: fillOffer, release, rate by each side"
CREATE_PATH = "buyer creates: createAndFund, accept, release, rate by each side"
#: The replica's token for ERC-20 assets (a shipped artifact: OpenZeppelin's ERC-20).
REPLICA_TOKEN = "DevToken"


@dataclass(frozen=True)
class SelfTrade:
    """One way to make a recording self-trade: its transactions (label, gas), as measured."""

    path: str
    steps: tuple[tuple[str, int], ...]

    @property
    def gas(self) -> int:
        return sum(gas for _, gas in self.steps)


@dataclass(frozen=True)
class AssetCost:
    """What one unit of reputation costs to fake in one asset."""

    asset: str  # token address (the zero address: ETH)
    symbol: str
    decimals: int
    minimum: int  # base units
    platform_fee_bps: int
    gas_price: int  # wei
    paths: tuple[SelfTrade, ...]
    replica_token: bool  # gas measured with a standard ERC-20 standing in for the asset

    @property
    def cheapest(self) -> SelfTrade:
        return min(self.paths, key=lambda p: p.gas)

    @property
    def gas(self) -> int:
        return self.cheapest.gas

    @property
    def gas_cost(self) -> int:
        """The self-trade's gas in wei at :attr:`gas_price`."""
        return self.gas * self.gas_price

    @property
    def platform_fee(self) -> int:
        """The platform fee on a trade at the minimum, in the asset's base units (rounded up)."""
        return -(-self.minimum * self.platform_fee_bps // 10_000)

    @property
    def is_eth(self) -> bool:
        return int(self.asset, 16) == 0

    @property
    def per_unit_eth(self) -> int | None:
        """Gas and fee together in wei, when the asset is ETH (else they are in two assets)."""
        return self.gas_cost + self.platform_fee if self.is_eth else None

    def human(self, units: int) -> Decimal:
        from ..models import from_base_units

        return from_base_units(units, self.decimals)

    def gas_per_volume(self) -> Decimal:
        """Wei of gas per one whole asset unit of faked volume, with trades at the minimum."""
        return Decimal(self.gas_cost) / self.human(self.minimum)

    @property
    def fee_rate(self) -> Decimal:
        """The platform fee per unit of volume, at any trade size (a fraction: 0.0025 for 25 bps)."""
        return Decimal(self.platform_fee_bps) / 10_000


def listed_assets(client: EscrowClient) -> list[tuple[str, int]]:
    """The assets listed now on ``client``'s deployment, ``(token, minimum)``, ETH first."""
    assets = client.reputation_assets()
    listed = [(token, minimum) for token, (is_listed, minimum) in assets.items() if is_listed]
    return sorted(listed, key=lambda a: (int(a[0], 16) != 0, a[0]))


def trust_cost(client: EscrowClient, *, gas_price: int | None = None,
               progress: Callable[[str], None] | None = None) -> list[AssetCost]:
    """What faking one unit of reputation costs, per asset listed on ``client``'s deployment, at
    ``gas_price`` wei (default: the node's gas price). Measured on an embedded replica (see the
    module's note); needs the ``embedded`` extra."""
    price = int(client.w3.eth.gas_price) if gas_price is None else gas_price
    fee_bps = int(client.escrow.functions.platformFeeBps().call())
    out = []
    for token, minimum in listed_assets(client):
        info = client.token(token)
        if progress:
            progress(f"measuring a self-trade in {info.symbol} at its minimum on a replica of the deployment")
        paths = _measure(fee_bps, None if info.is_eth else token, minimum)
        out.append(AssetCost(info.address, info.symbol, info.decimals, minimum, fee_bps, price, paths,
                             replica_token=not info.is_eth))
    return out


def _measure(fee_bps: int, token: str | None, minimum: int) -> tuple[SelfTrade, ...]:
    """Both self-trade paths on a fresh embedded chain with the escrow deployed at ``fee_bps`` and
    the asset (a replica ERC-20 for ``token``) listed at ``minimum``; each run twice, the second kept."""
    from eth_account import Account

    from ..chains import tester_of
    from ..clients.sync import EscrowClient
    from ..models import from_base_units

    owner = EscrowClient.embedded(platform_fee_bps=fee_bps)
    keys = tester_of(owner.w3).backend.account_keys
    buyer = owner.as_account(Account.from_key(keys[1]))
    seller = owner.as_account(Account.from_key(keys[2]))
    asset = None
    decimals = 18
    if token is not None:
        from ..core.codec import erc20_codec
        from ..transport.sync import Call

        asset, decimals = _replica_token(owner, [buyer.address, seller.address])
        # One unlimited allowance, given once: the faker's cheapest way, no approval per trade.
        buyer.tx.send(Call(asset, erc20_codec().encode_call("approve", owner.deployment.escrow, 2**256 - 1),
                           description="approve"))
    owner.set_reputation_asset(asset, min_amount=from_base_units(minimum, decimals))
    amount = from_base_units(minimum, decimals)

    nonces = iter(range(1, 256))  # one nonce word: a faker numbers its offers, it does not scatter them

    def offer_path() -> None:
        signed = seller.create_offer(amount=amount, token=asset, record_reputation=True, nonce=next(nonces))
        trade = buyer.fill_offer(signed).trade_id
        buyer.release(trade)
        buyer.rate(trade, 5)
        seller.rate(trade, 5)

    def create_path() -> None:
        trade = buyer.create(seller=seller.address, amount=amount, token=asset, record_reputation=True).trade_id
        seller.accept(trade)
        buyer.release(trade)
        buyer.rate(trade, 5)
        seller.rate(trade, 5)

    return tuple(_second_run(owner, name, run) for name, run in ((OFFER_PATH, offer_path), (CREATE_PATH, create_path)))


def _second_run(client: EscrowClient, path: str, run: Callable[[], None]) -> SelfTrade:
    """Run ``run`` twice; the transactions of the second run, labelled by the function they call."""
    run()
    w3 = client.w3
    first = int(w3.eth.block_number) + 1
    run()
    names = _selectors()
    steps = []
    for number in range(first, int(w3.eth.block_number) + 1):
        block = w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            receipt = w3.eth.get_transaction_receipt(tx["hash"])
            data = bytes(tx.get("input") or tx.get("data") or b"")
            steps.append((names.get(data[:4], "0x" + data[:4].hex()), int(receipt["gasUsed"])))
    return SelfTrade(path, tuple(steps))


def _selectors() -> dict[bytes, str]:
    from eth_utils import function_abi_to_4byte_selector

    from .._artifacts import load_artifact

    out = {}
    for name in ("P2PEscrow", REPLICA_TOKEN):
        for entry in load_artifact(name)["abi"]:
            if entry["type"] == "function":
                out[bytes(function_abi_to_4byte_selector(entry))] = entry["name"]
    return out


def _replica_token(owner: EscrowClient, holders: list[str]) -> tuple[str, int]:
    """Deploy the replica ERC-20 on the embedded chain, crediting ``holders``; (address, decimals)."""
    from .._artifacts import load_artifact
    from ..deployments import deploy_data
    from ..transport.sync import Call

    artifact = load_artifact(REPLICA_TOKEN)
    result = owner.tx.send(Call(None, deploy_data(artifact, "Replica Token", "RPL", holders, 2**120),
                                description=f"deploy {REPLICA_TOKEN}"))
    assert result.contract_address is not None
    address = owner.w3.to_checksum_address(result.contract_address)
    return address, owner.token(address).decimals


def report(costs: list[AssetCost]) -> dict[str, Any]:
    """The JSON document of ``rep cost``."""
    assets = []
    for c in costs:
        assets.append({
            "asset": c.asset, "symbol": c.symbol, "minimum": str(c.human(c.minimum)), "minimum_base_units": c.minimum,
            "gas": c.gas, "path": c.cheapest.path,
            "steps": [{"call": label, "gas": gas} for label, gas in c.cheapest.steps],
            "paths": [{"path": p.path, "gas": p.gas} for p in c.paths],
            "gas_price_wei": c.gas_price, "gas_cost_wei": c.gas_cost,
            "platform_fee_bps": c.platform_fee_bps, "platform_fee": str(c.human(c.platform_fee)),
            "platform_fee_base_units": c.platform_fee,
            "per_unit_wei": c.per_unit_eth,
            "per_volume": {"fee_rate": str(c.fee_rate), "gas_wei_at_minimum_size": int(c.gas_per_volume())},
            "replica_token": c.replica_token,
        })
    return {"assets": assets}
