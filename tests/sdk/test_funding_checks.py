"""An ERC-20 payment the chain will refuse is refused before the approval: no gas paid, no allowance
left behind. On Anvil and Ganache the funding call is simulated with a state override giving the
escrow the allowance; on the embedded chain (no overrides) the escrow's own refusals are still
caught first, and a refusal only the token transfer can reveal comes after the approval, as the
plan said beforehand (``FundingPlan.checked`` is False and its line says so)."""

from __future__ import annotations

import asyncio

import pytest
from eth_utils import keccak

from p2pescrow import errors
from p2pescrow.aio import AsyncEscrowClient
from p2pescrow.core.funding import APPROVE, FundingPlan, allowance_slot

BLACKLISTED = "0x" + keccak(text="Blacklisted(address)")[:4].hex()
ETHER = 10**18


def allowance(token, owner, spender) -> int:
    return token.functions.allowance(owner, spender).call()


def blocked_buyer(chain):
    """A BlacklistToken, a buyer holding 1,000 of it whom the token blocks, and a seller."""
    token = chain.token("BlacklistToken")
    buyer_acct, buyer = chain.party()
    seller = chain.account(1)
    chain.mint(token, buyer_acct.address, 1_000 * ETHER)
    chain.transact(token, "setBlacklisted", buyer_acct.address, True)
    return token, buyer_acct, buyer, seller


TOKENS = {
    "TestToken": lambda chain: chain.token(),
    "BlacklistToken": lambda chain: chain.token("BlacklistToken"),
    "DevToken": lambda chain: chain.deploy("DevToken", "Dev Dollar", "DUSD", [], 0, test=False),
    "DevPermitToken": lambda chain: chain.deploy("DevPermitToken", "Dev Euro", "DEUR", [], 0, test=False),
}


@pytest.mark.parametrize("kind", sorted(TOKENS))
def test_the_allowance_slot_is_the_one_approve_writes(embedded, kind):
    from p2pescrow.transport.sync import Call, Transactor

    token = TOKENS[kind](embedded)
    owner, spender = embedded.account(1), embedded.account(0).address
    Transactor(embedded.w3, owner, url="embedded", poll_interval=0).send(
        Call(token.address, token.encode_abi("approve", [spender, 1234]), description="approve"))
    stored = embedded.w3.eth.get_storage_at(token.address, allowance_slot(owner.address, spender))
    assert int.from_bytes(stored, "big") == 1234


@pytest.mark.parametrize("operation", ["create", "fund", "fill_offer"])
def test_a_blocked_buyer_is_refused_before_the_approval(real_node, operation):
    token, buyer_acct, buyer, seller = blocked_buyer(real_node)
    escrow = buyer.deployment.escrow
    plans: list[FundingPlan] = []
    buyer.on_plan = plans.append
    if operation == "create":
        run = lambda: buyer.create(seller=seller.address, token=token.address, amount="100")  # noqa: E731
    elif operation == "fund":
        seller_client = real_node.client(seller)
        trade_id = seller_client.create(buyer=buyer_acct.address, token=token.address, amount="100").trade_id
        run = lambda: buyer.fund(trade_id)  # noqa: E731
    else:
        offer_seller = real_node.account(1)
        signed = real_node.client(offer_seller).create_offer(amount="100", token=token.address)
        run = lambda: buyer.fill_offer(signed)  # noqa: E731

    with real_node.no_tx(buyer_acct.address), pytest.raises(errors.ContractError) as caught:
        run()
    assert caught.value.data.startswith(BLACKLISTED)  # the token's refusal, typed data kept
    assert buyer_acct.address[2:].lower() in caught.value.data.lower()
    assert allowance(token, buyer_acct.address, escrow) == 0
    assert real_node.erc20_logs(token, "Approval", owner=buyer_acct.address) == []
    assert plans == []  # refused before any plan was handed out


def test_a_payment_that_passes_is_planned_checked_then_approved_and_funded(real_node):
    token = real_node.token()
    buyer_acct, buyer = real_node.party()
    seller = real_node.account(0)
    real_node.mint(token, buyer_acct.address, 1_000 * 10**6)
    plans: list[FundingPlan] = []
    buyer.on_plan = plans.append
    nonce = real_node.nonce(buyer_acct.address)

    created = buyer.create(seller=seller.address, token=token.address, amount="250")
    assert real_node.nonce(buyer_acct.address) == nonce + 2  # approve + createAndFund
    (plan,) = plans
    assert (plan.method, plan.checked, plan.amount, plan.allowance) == (APPROVE, True, 250 * 10**6, 0)
    assert plan.approve_first
    assert plan.describe().startswith("an approval of 250 TUSD is sent first")
    assert buyer.trade(created.trade_id).held == 250 * 10**6


def test_a_token_of_another_layout_falls_back_to_approving_first(real_node):
    """NoReturnToken (USDT-like) keeps its allowances in another slot: the override does not take
    (read back as 0), so the simulation cannot tell, and the plan says the approval goes first."""
    token = real_node.token("NoReturnToken")
    buyer_acct, buyer = real_node.party()
    seller = real_node.account(0)
    real_node.mint(token, buyer_acct.address, 1_000 * 10**6)
    plans: list[FundingPlan] = []
    buyer.on_plan = plans.append
    created = buyer.create(seller=seller.address, token=token.address, amount="10")
    (plan,) = plans
    assert (plan.method, plan.checked) == (APPROVE, False)
    assert buyer.trade(created.trade_id).held == 10 * 10**6


def test_async_client_refuses_a_blocked_buyer_before_the_approval(anvil):
    token, buyer_acct, _buyer, seller = blocked_buyer(anvil)

    async def run() -> None:
        client = await AsyncEscrowClient.connect(anvil.base.url, buyer_acct, deployment=anvil.base.deployment)
        with pytest.raises(errors.ContractError) as caught:
            await client.create(seller=seller.address, token=token.address, amount="100")
        assert caught.value.data.startswith(BLACKLISTED)

    with anvil.no_tx(buyer_acct.address):
        asyncio.run(run())
    assert allowance(token, buyer_acct.address, anvil.base.deployment.escrow) == 0


def test_embedded_chain_refuses_escrow_refusals_before_the_approval(embedded):
    token = embedded.token()
    buyer_acct, buyer = embedded.party()
    seller_acct, seller = embedded.party(1)
    embedded.mint(token, buyer_acct.address, 1_000 * 10**6)
    trade_id = seller.create(buyer=buyer_acct.address, token=token.address, amount="100").trade_id
    embedded.sleep(2 * 86_400)  # past the funding deadline: the escrow refuses, whatever the allowance
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.ContractError) as caught:
        buyer.fund(trade_id)
    assert type(caught.value).__name__ == "DeadlinePassed"
    assert allowance(token, buyer_acct.address, buyer.deployment.escrow) == 0
    assert seller_acct.address  # the seller's trade is untouched


def test_embedded_chain_says_the_approval_comes_first_when_it_cannot_check(embedded):
    """The documented fallback: py-evm takes no state override, so a refusal by the token itself
    shows only once the approval is mined; the plan said so before anything was sent."""
    token, buyer_acct, buyer, seller = blocked_buyer(embedded)
    plans: list[FundingPlan] = []
    buyer.on_plan = plans.append
    nonce = embedded.nonce(buyer_acct.address)
    with pytest.raises(errors.ContractError) as caught:
        buyer.create(seller=seller.address, token=token.address, amount="100")
    assert caught.value.data.startswith(BLACKLISTED)
    (plan,) = plans
    assert (plan.method, plan.checked) == (APPROVE, False)
    assert plan.describe() == ("an approval of 100 BUSD is sent first, then the funding call; this node "
                               "cannot check the funding call before the approval is mined")
    assert embedded.nonce(buyer_acct.address) == nonce + 1  # the approval, and only it
    assert allowance(token, buyer_acct.address, buyer.deployment.escrow) == 100 * ETHER


def test_a_node_that_refuses_the_override_parameter_is_simulated_without_it(embedded):
    """A client made with from_web3 does not know its node is py-evm: the override is tried, the node
    refuses the parameter, and the escrow's own refusals are still caught before the approval."""
    token = embedded.token()
    buyer_acct, _ = embedded.party()
    buyer = embedded.client(buyer_acct, poll_interval=0.01)  # from_web3: no embedded-chain handle
    assert buyer._overrides
    _, seller = embedded.party()
    embedded.mint(token, buyer_acct.address, 1_000 * 10**6)
    trade_id = seller.create(buyer=buyer_acct.address, token=token.address, amount="100").trade_id
    embedded.sleep(2 * 86_400)
    with embedded.no_tx(buyer_acct.address), pytest.raises(errors.ContractError) as caught:
        buyer.fund(trade_id)
    assert type(caught.value).__name__ == "DeadlinePassed"
    assert not buyer._overrides  # not asked again
