"""A node that stops answering after the command connected: the exit code says the node (4), not
the input (2)."""

from __future__ import annotations

from eth_account import Account
from support.escrow_cli import DEV, Cli, one_error_line
from support.stopping_proxy import StoppingProxy, calls_to


def test_trade_create_with_a_token_the_node_never_describes_exits_4(cli: Cli) -> None:
    token = Account.create().address  # never read: the node is gone by then

    with StoppingProxy(cli.chain.url, stop_at=calls_to(token)) as proxy:
        result = cli("trade", "create", "--seller", DEV["dev2"], "--amount", "1", "--token", token,
                     rpc_url=proxy.url)

    assert result.exit_code == 4, result.output
    assert "eth_call" in proxy.unanswered  # connected, then no answer to the token read
    assert one_error_line(result).startswith(f"error: cannot reach the node at {proxy.url}")
    assert "ERC-20" not in result.output
