"""eth_getLogs over long block ranges, in pages that adapt when a provider limits the range."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from web3 import Web3

from .reverts import is_connection_failure

#: First page size; halved on a "range too large" answer, grown again after successes.
DEFAULT_PAGE = 10_000
MIN_PAGE = 1

_LIMIT_WORDS = ("range", "limit", "too many", "exceed", "block range", "query returned more")


def get_logs(w3: Web3, params: dict[str, Any], from_block: int, to_block: int,
             page: int = DEFAULT_PAGE) -> Iterator[Any]:
    """Yield the logs matching ``params`` (address, topics) in ``[from_block, to_block]``, in order.

    A provider that refuses a range (Infura, Alchemy and friends cap it) gets the same range in
    halves until it accepts. Pages grow back after successes, but never to a size the provider
    already refused, so a capped provider is asked at most once per halving.
    """
    start = from_block
    size = max(page, MIN_PAGE)
    refused: int | None = None  # the smallest page size the provider refused
    while start <= to_block:
        end = min(start + size - 1, to_block)
        try:
            logs = w3.eth.get_logs({**params, "fromBlock": start, "toBlock": end})
        except Exception as exc:  # noqa: BLE001 - providers word their limits differently
            message = str(exc).lower()
            if size > MIN_PAGE and not is_connection_failure(exc) and any(w in message for w in _LIMIT_WORDS):
                refused = size if refused is None else min(refused, size)
                size = max(size // 2, MIN_PAGE)
                continue
            raise
        yield from logs
        start = end + 1
        grown = min(size * 2, page * 16)
        if refused is None or grown < refused:
            size = grown
