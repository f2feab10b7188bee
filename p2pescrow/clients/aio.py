"""AsyncEscrowClient: the escrow operations for asyncio code, over ``AsyncWeb3``.

    client = await AsyncEscrowClient.connect("http://127.0.0.1:8545", account)
    result = await client.create(seller=bob, amount="1.5")
    await client.release(result.trade_id)

Same operations, names and errors as :class:`p2pescrow.clients.sync.EscrowClient`; it shares the I/O-free
core (inputs, trade ids, next actions, offers), the :class:`~p2pescrow.transport.sync.Call`
encoding and the nonce manager, and awaits its own transaction path
(:mod:`p2pescrow.transport.aio`).
"""

from __future__ import annotations

import warnings
from decimal import Decimal
from typing import Any

from eth_utils import keccak, to_checksum_address
from web3 import AsyncWeb3
from web3.contract import AsyncContract

from .._artifacts import load_artifact
from ..core import offers as offer_core
from ..core.terms import bytes32, checksum, new_terms, normalise_id, offer_terms
from ..core.trades import trade_from_slot, trade_id
from ..deployments import Deployment, DeploymentMismatch, NoDeployment, Registry
from ..errors import InputError, InsufficientFunds, WrongChain
from ..models import ETH_TOKEN, ZERO_ADDRESS, ReputationRecord, Terms, TokenInfo, Trade, to_base_units
from ..transport.aio import AsyncTransactor
from ..transport.reverts import translate
from ..transport.sync import Call, Signer, TxResult

_TRADE_CREATED = "0x" + keccak(text=f"TradeCreated(bytes32,address,address,{Terms.ABI_TYPE},uint256,uint256)").hex()


class AsyncEscrowClient:
    """A connection to one chain's p2pescrow deployment, acting as one account, for asyncio."""

    def __init__(self, w3: AsyncWeb3, deployment: Deployment, signer: Signer, *, url: str = "",
                 **options: Any) -> None:
        self.w3 = w3
        self.deployment = deployment
        self.url = url
        self.tx = AsyncTransactor(w3, signer, chain_id=deployment.chain_id, url=url, **options)
        self.escrow: AsyncContract = w3.eth.contract(address=deployment.escrow,  # type: ignore[assignment]
                                                     abi=load_artifact("P2PEscrow")["abi"])
        self.reputation_contract: AsyncContract = w3.eth.contract(  # type: ignore[assignment]
            address=deployment.reputation, abi=load_artifact("Reputation")["abi"])
        self._terms: dict[str, Terms] = {}
        self._tokens: dict[str, TokenInfo] = {ZERO_ADDRESS: ETH_TOKEN}

    @classmethod
    async def connect(cls, rpc_url: str, account: Signer, *, deployment: Deployment | None = None,
                      registry: Registry | None = None, expected_chain_id: int | None = None,
                      **options: Any) -> AsyncEscrowClient:
        """Connect by URL; addresses from the registry for the node's chain id, code verified."""
        provider: Any = (AsyncWeb3.WebSocketProvider(rpc_url) if rpc_url.startswith(("ws://", "wss://"))
                         else AsyncWeb3.AsyncHTTPProvider(rpc_url))
        w3 = AsyncWeb3(provider)
        # As in EscrowClient.connect: web3's validation middleware asks the node for its chain id
        # before and after every call and estimate; this client checks the chain on connect and
        # before its first broadcast, and signs with that id, so it is pure cost.
        w3.middleware_onion.remove("validation")
        if rpc_url.startswith(("ws://", "wss://")):
            await provider.connect()
        return await cls.from_web3(w3, account, deployment=deployment, registry=registry,
                                   expected_chain_id=expected_chain_id, url=rpc_url, **options)

    @classmethod
    async def from_web3(cls, w3: AsyncWeb3, account: Signer, *, deployment: Deployment | None = None,
                        registry: Registry | None = None, expected_chain_id: int | None = None,
                        url: str = "", **options: Any) -> AsyncEscrowClient:
        """Use an existing ``AsyncWeb3`` instance."""
        try:
            chain_id = int(await w3.eth.chain_id)
        except Exception as exc:  # noqa: BLE001
            raise translate(exc, url) from None
        if expected_chain_id is not None and chain_id != expected_chain_id:
            raise WrongChain(expected_chain_id, chain_id)
        if deployment is None:
            deployment = (registry or Registry()).get(chain_id)
            if deployment is None:
                raise NoDeployment(chain_id)
        for name, address, expected in (("escrow", deployment.escrow, deployment.escrow_code_hash),
                                        ("reputation", deployment.reputation, deployment.reputation_code_hash)):
            if "0x" + keccak(bytes(await w3.eth.get_code(address))).hex() != expected:  # type: ignore[arg-type]
                raise DeploymentMismatch(f"the recorded {name} address {address} holds other code")
        return cls(w3, deployment, account, url=url, **options)

    @property
    def address(self) -> str:
        return self.tx.address

    # -- helpers -------------------------------------------------------------------------------
    async def token(self, address: str | None) -> TokenInfo:
        address = ZERO_ADDRESS if address in (None, "", "ETH", "eth") else checksum(address, "token address")
        if address not in self._tokens:
            from .sync import _ERC20_ABI

            erc20 = self.w3.eth.contract(address=to_checksum_address(address), abi=_ERC20_ABI)
            try:
                symbol, decimals = await erc20.functions.symbol().call(), await erc20.functions.decimals().call()
            except Exception as exc:  # noqa: BLE001
                raise InputError(f"{address} does not look like an ERC-20 token ({type(exc).__name__})") from None
            self._tokens[address] = TokenInfo(address, str(symbol), int(decimals))
        return self._tokens[address]

    def _call(self, fn: str, args: list[Any], value: int = 0) -> Call:
        return Call(self.deployment.escrow, self.escrow.encode_abi(fn, args), value, fn,
                    (self.escrow, self.reputation_contract))  # type: ignore[arg-type]

    async def _act(self, fn: str, *args: Any, value: int = 0) -> TxResult:
        return await self.tx.send(self._call(fn, list(args), value))

    async def _balance(self, token: TokenInfo) -> int:
        if token.is_eth:
            return int(await self.w3.eth.get_balance(self.address))
        from .sync import _ERC20_ABI

        erc20 = self.w3.eth.contract(address=token.address, abi=_ERC20_ABI)
        return int(await erc20.functions.balanceOf(self.address).call())

    async def _check_can_pay(self, terms: Terms) -> None:
        """The buyer holds the trade's tokens; an ETH amount is the transaction's value, checked by
        the transaction path against the balance it reads anyway (see the sync client)."""
        if terms.is_eth:
            return
        info = await self.token(terms.token)
        balance = await self._balance(info)
        if balance < terms.amount:
            raise InsufficientFunds(f"{info.symbol} balance", f"{info.human(terms.amount)} {info.symbol}",
                                    f"{info.human(balance)} {info.symbol}")

    async def _approve(self, token: str, amount: int) -> None:
        from .sync import _ERC20_ABI

        erc20 = self.w3.eth.contract(address=to_checksum_address(token), abi=_ERC20_ABI)
        if int(await erc20.functions.allowance(self.address, self.deployment.escrow).call()) >= amount:
            return
        await self.tx.send(Call(token, erc20.encode_abi("approve", [self.deployment.escrow, amount]),
                                description="approve"))

    # -- operations ----------------------------------------------------------------------------
    async def create(self, *, fund: bool = True, token: str | None = None, **options: Any) -> Any:
        """Create (and, as buyer, fund) a trade; options as :meth:`EscrowClient.build_terms`."""
        from .sync import TradeResult

        info = await self.token(token)
        fee = int(await self.escrow.functions.platformFeeBps().call())
        terms = new_terms(self.address, info, fee, **options)
        key = trade_id(terms)
        self._terms[key] = terms
        if terms.buyer != self.address or not fund:
            return TradeResult(key, await self._act("create", terms.as_tuple()))
        await self._check_can_pay(terms)
        if not terms.is_eth:
            await self._approve(terms.token, terms.amount)
        return TradeResult(key, await self._act("createAndFund", terms.as_tuple(),
                                                value=terms.amount if terms.is_eth else 0))

    async def fund(self, trade_id_: str) -> TxResult:
        terms = await self.terms(trade_id_)
        await self._check_can_pay(terms)
        if not terms.is_eth:
            await self._approve(terms.token, terms.amount)
        return await self._act("fund", terms.as_tuple(), value=terms.amount if terms.is_eth else 0)

    async def _part(self, trade_id_: str, amount: Decimal | str | int | None) -> tuple[Terms, int]:
        terms = await self.terms(trade_id_)
        if amount is None:
            held = int((await self.escrow.functions.escrowOf(_id_bytes(trade_id_)).call())[0])
            return terms, held
        return terms, to_base_units(amount, (await self.token(terms.token)).decimals)

    async def release(self, trade_id_: str, amount: Decimal | str | int | None = None) -> TxResult:
        terms, part = await self._part(trade_id_, amount)
        return await self._act("release", terms.as_tuple(), part)

    async def refund(self, trade_id_: str, amount: Decimal | str | int | None = None) -> TxResult:
        terms, part = await self._part(trade_id_, amount)
        return await self._act("refund", terms.as_tuple(), part)

    async def _on_trade(self, fn: str, trade_id_: str, *args: Any) -> TxResult:
        return await self._act(fn, (await self.terms(trade_id_)).as_tuple(), *args)

    async def cancel(self, trade_id_: str) -> TxResult:
        return await self._on_trade("cancel", trade_id_)

    async def mark_delivered(self, trade_id_: str) -> TxResult:
        return await self._on_trade("markDelivered", trade_id_)

    async def propose_settlement(self, trade_id_: str, buyer_bps: int) -> TxResult:
        return await self._on_trade("proposeSettlement", trade_id_, buyer_bps)

    async def accept_settlement(self, trade_id_: str, buyer_bps: int) -> TxResult:
        return await self._on_trade("acceptSettlement", trade_id_, buyer_bps)

    async def dispute(self, trade_id_: str) -> TxResult:
        return await self._on_trade("dispute", trade_id_)

    async def rule(self, trade_id_: str, buyer_bps: int) -> TxResult:
        return await self._on_trade("rule", trade_id_, buyer_bps)

    async def timeout(self, trade_id_: str) -> TxResult:
        return await self._on_trade("timeout", trade_id_)

    async def resolve_expired_dispute(self, trade_id_: str) -> TxResult:
        return await self._on_trade("resolveExpiredDispute", trade_id_)

    async def submit_evidence(self, trade_id_: str, uri: str, content_hash: bytes | str | None = None) -> TxResult:
        digest = bytes32(content_hash) if content_hash is not None else keccak(text=uri)
        return await self._on_trade("submitEvidence", trade_id_, uri, digest)

    async def rate(self, trade_id_: str, score: int, comment: str | bytes | None = None) -> TxResult:
        if not 1 <= score <= 5:
            raise InputError(f"a rating is 1 to 5, not {score}")
        return await self._on_trade("rate", trade_id_, score, bytes32(comment))

    async def withdraw(self, token: str | None = None, to: str | None = None) -> TxResult:
        return await self._act("withdraw", (await self.token(token)).address, checksum(to) if to else self.address)

    async def fill_offer(self, signed: offer_core.SignedOffer) -> Any:
        """Fill a signed offer as the buyer (ETH, or ERC-20 with an exact approval)."""
        from .sync import TradeResult

        if signed.chain_id != self.deployment.chain_id or signed.escrow != self.deployment.escrow:
            raise offer_core.OfferError("the offer is for another chain or escrow contract")
        if signed.signer() != signed.offer.seller:
            raise offer_core.OfferError("the signature is not the seller's (tampered or wrong signer)")
        terms = offer_terms(signed.offer, self.address)
        self._terms[trade_id(terms)] = terms
        await self._check_can_pay(terms)
        if not terms.is_eth:
            await self._approve(terms.token, terms.amount)
        tx = await self._act("fillOffer", signed.offer.as_tuple(), signed.signature,
                             value=terms.amount if terms.is_eth else 0)
        return TradeResult(trade_id(terms), tx)

    # -- reads -------------------------------------------------------------------------------------
    async def terms(self, trade_id_: str) -> Terms:
        key = normalise_id(trade_id_)
        if key not in self._terms:
            logs = await self.w3.eth.get_logs({"address": self.deployment.escrow,  # type: ignore[typeddict-item]
                                               "topics": [_TRADE_CREATED, key],
                                               "fromBlock": self.deployment.block, "toBlock": "latest"})
            if not logs:
                raise InputError(f"no trade {key} on this escrow (chain id {self.deployment.chain_id})")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                raw = self.escrow.events.TradeCreated().process_log(logs[0])["args"]["terms"]
            self._terms[key] = Terms.from_tuple(tuple(raw.values()) if hasattr(raw, "values") else tuple(raw))
        return self._terms[key]

    async def trade(self, trade_id_: str) -> Trade:
        terms = await self.terms(trade_id_)
        slot = tuple(int(x) for x in await self.escrow.functions.escrowOf(_id_bytes(trade_id_)).call())
        now = int((await self.w3.eth.get_block("latest"))["timestamp"])
        return trade_from_slot(terms, await self.token(terms.token), slot, now)  # type: ignore[arg-type]

    async def reputation(self, address: str) -> ReputationRecord:
        who = checksum(address)
        record, rating_sum = await self.reputation_contract.functions.recordOf(who).call()
        return ReputationRecord(who, *(int(x) for x in record), int(rating_sum))


def _id_bytes(value: str) -> bytes:
    return bytes.fromhex(normalise_id(value)[2:])


__all__ = ["AsyncEscrowClient"]
