"""A token's symbol and decimals read by the sync client, the async client and the web3-free reader:
a node that stops answering at that read is the node's failure (NodeUnreachable, exit 4), not a
token that "does not look like an ERC-20 token" (InputError, exit 2); what is no token is still
refused as input, on Anvil, Ganache and the embedded chain alike."""

from __future__ import annotations

import asyncio

import pytest
from eth_account import Account
from support.harness import Harness
from support.stopping_proxy import StoppingProxy, calls_to

from p2pescrow import errors
from p2pescrow.clients.aio import AsyncEscrowClient
from p2pescrow.clients.sync import EscrowClient
from p2pescrow.deployments import Deployment
from p2pescrow.models import TokenInfo
from p2pescrow.reader import EscrowReader

READERS = ["sync client", "async client", "reader"]


def token_of(kind: str, url: str, deployment: Deployment, address: str) -> TokenInfo:
    """``token(address)`` asked by a fresh ``kind`` connected to the node at ``url``."""
    if kind == "sync client":
        return EscrowClient.connect(url, deployment=deployment).token(address)
    if kind == "async client":
        async def read() -> TokenInfo:
            client = await AsyncEscrowClient.connect(url, deployment=deployment)
            return await client.token(address)
        return asyncio.run(read())
    return EscrowReader.connect(url, deployment=deployment).token(address)


@pytest.mark.anvil
@pytest.mark.parametrize("kind", READERS)
def test_a_node_gone_at_the_token_read_is_unreachable_not_a_bad_token(anvil: Harness, kind: str) -> None:
    token = anvil.token(decimals=6)
    deployment = anvil.base.deployment

    with StoppingProxy(anvil.node.url, stop_at=calls_to(token.address)) as proxy:
        with pytest.raises(errors.NodeUnreachable) as failed:
            token_of(kind, proxy.url, deployment, token.address)

    assert failed.value.url == proxy.url and errors.exit_code_for(failed.value) == 4
    assert "eth_call" in proxy.unanswered  # connecting was answered; the token read was not
    # the same address, once a node answers, is the token it is
    assert token_of(kind, anvil.node.url, deployment, token.address) == TokenInfo(token.address, "TUSD", 6)


@pytest.mark.parametrize("kind", READERS)
def test_what_is_no_token_is_refused_as_input(real_node: Harness, kind: str) -> None:
    deployment = real_node.base.deployment
    for address in (deployment.escrow, Account.create().address):  # a contract without symbol(), no code
        with pytest.raises(errors.InputError, match=f"^{address} does not look like an ERC-20 token") as refused:
            token_of(kind, real_node.base.url, deployment, address)
        assert errors.exit_code_for(refused.value) == 2


def test_what_is_no_token_is_refused_as_input_on_the_embedded_chain(embedded: Harness) -> None:
    async_client = asyncio.run(AsyncEscrowClient.embedded())
    for address in (embedded.base.deployment.escrow, Account.create().address):
        with pytest.raises(errors.InputError, match=f"^{address} does not look like an ERC-20 token"):
            embedded.base.token(address)
    for address in (async_client.deployment.escrow, Account.create().address):
        with pytest.raises(errors.InputError, match=f"^{address} does not look like an ERC-20 token"):
            asyncio.run(async_client.token(address))
