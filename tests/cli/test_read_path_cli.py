"""Which path a read-only command takes: the web3-free reader over plain HTTP JSON-RPC, the SDK
client where the reader cannot go (the embedded chain, a WebSocket, a proxy the SDK's HTTP client
would use), and the same answer either way."""

from __future__ import annotations

import pytest
from support.escrow_cli import DEV, Chain, Cli

from p2pescrow import errors
from p2pescrow.cli import context
from p2pescrow.clients.sync import EscrowClient
from p2pescrow.reader import EscrowReader


def test_reads_over_http_take_the_reader_acting_as_the_named_account(deployed_anvil: Chain) -> None:
    reads = context.reader(context.Options(network="local", rpc_url=deployed_anvil.url, account="dev3"))

    assert isinstance(reads, EscrowReader) and reads.address == DEV["dev3"]


def test_with_a_proxy_set_reads_go_through_the_sdk_which_uses_it(
        deployed_anvil: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # for the SDK's HTTP client: the node is local

    reads = context.reader(context.Options(network="local", rpc_url=deployed_anvil.url))

    assert isinstance(reads, EscrowClient)


def test_the_embedded_chain_is_read_through_the_sdk() -> None:
    reads = context.reader(context.Options(network="embedded", account="dev1"))

    assert isinstance(reads, EscrowClient) and reads.address == reads.dev_accounts[1]


def test_reader_and_sdk_show_the_same_trade(cli: Cli, deployed_anvil: Chain) -> None:
    trade_id = cli.create("dev2", "0.7", "--arbiter", DEV["dev3"], "--arbiter-fee", "1%")
    options = context.Options(network="local", rpc_url=deployed_anvil.url, account="dev1")

    reader = context.reader(options)
    sdk = context.client(options, hooks=False, read_only=True)

    assert reader.trade(trade_id) == sdk.trade(trade_id)
    assert reader.trades(party=DEV["dev2"]) == sdk.trades(party=DEV["dev2"])
    assert reader.reputation(DEV["dev2"]) == sdk.reputation(DEV["dev2"])


def test_trade_states_are_read_in_batches_a_provider_accepts(
        cli: Cli, deployed_anvil: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    import p2pescrow.reader

    for amount in ("0.1", "0.2", "0.3"):
        cli.create("dev4", amount, account="dev5")
    monkeypatch.setattr(p2pescrow.reader, "BATCH", 2)
    options = context.Options(network="local", rpc_url=deployed_anvil.url)
    reader = context.reader(options)

    listed = reader.trades(party=DEV["dev5"])

    assert listed == context.client(options, hooks=False, read_only=True).trades(party=DEV["dev5"])
    assert [t.amount for t in listed] == [10**17, 2 * 10**17, 3 * 10**17]
    batches = [sent for sent in reader.rpc.sent if "eth_call" in sent]
    assert batches == [("eth_getBlockByNumber", "eth_call"), ("eth_call", "eth_call")]  # 1 + 3 requests, 2 a batch


def test_reader_and_sdk_refuse_an_address_that_is_no_token_alike(deployed_anvil: Chain) -> None:
    options = context.Options(network="local", rpc_url=deployed_anvil.url)
    reader, sdk = context.reader(options), context.client(options, hooks=False, read_only=True)
    assert isinstance(reader, EscrowReader)

    for address in (reader.deployment.escrow, DEV["dev6"]):  # a contract without symbol(), no code at all
        for reads in (reader, sdk):
            with pytest.raises(errors.InputError, match=f"^{address} does not look like an ERC-20 token"):
                reads.token(address)
