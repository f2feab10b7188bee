"""eth_getLogs over long block ranges, in pages that adapt when a provider limits the range.

:func:`get_logs` (``Web3``) and :func:`async_get_logs` (``AsyncWeb3``) only do the requests; the
page sizes are decided by one :class:`Pager`, so both paths page the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from .reverts import is_connection_failure

#: First page size; halved on a "range too large" answer, grown again after successes.
DEFAULT_PAGE = 10_000
MIN_PAGE = 1

_LIMIT_WORDS = ("range", "limit", "too many", "exceed", "block range", "query returned more")


class Pager:
    """The block ranges of a log scan over ``[from_block, to_block]`` (no I/O).

    A provider that refuses a range (Infura, Alchemy and friends cap it) gets the same range in
    halves until it accepts. Pages grow back after successes, but never to a size the provider
    already refused, so a capped provider is asked at most once per halving.
    """

    def __init__(self, from_block: int, to_block: int, page: int = DEFAULT_PAGE) -> None:
        self.start, self.to_block, self.page = from_block, to_block, page
        self.size = max(page, MIN_PAGE)
        self.refused: int | None = None  # the smallest page size the provider refused

    def next_range(self) -> tuple[int, int] | None:
        """The next ``(fromBlock, toBlock)`` to ask for, or None when the scan is done."""
        if self.start > self.to_block:
            return None
        return self.start, min(self.start + self.size - 1, self.to_block)

    def refusal(self, exc: BaseException) -> bool:
        """Whether ``exc`` refused the range as too large; if so the next range is smaller."""
        message = str(exc).lower()
        if self.size > MIN_PAGE and not is_connection_failure(exc) and any(w in message for w in _LIMIT_WORDS):
            self.refused = self.size if self.refused is None else min(self.refused, self.size)
            self.size = max(self.size // 2, MIN_PAGE)
            return True
        return False

    def accepted(self, end: int) -> None:
        """The range ending at ``end`` was answered: move on, and grow the page again."""
        self.start = end + 1
        grown = min(self.size * 2, self.page * 16)
        if self.refused is None or grown < self.refused:
            self.size = grown


def get_logs(w3: Any, params: dict[str, Any], from_block: int, to_block: int,
             page: int = DEFAULT_PAGE) -> Iterator[Any]:
    """Yield the logs matching ``params`` (address, topics) in ``[from_block, to_block]``, in order,
    in pages a range-limited provider accepts (see :class:`Pager`)."""
    pager = Pager(from_block, to_block, page)
    while (span := pager.next_range()) is not None:
        try:
            logs = w3.eth.get_logs({**params, "fromBlock": span[0], "toBlock": span[1]})
        except Exception as exc:  # noqa: BLE001 - providers word their limits differently
            if pager.refusal(exc):
                continue
            raise
        yield from logs
        pager.accepted(span[1])


async def async_get_logs(w3: Any, params: dict[str, Any], from_block: int, to_block: int,
                         page: int = DEFAULT_PAGE) -> AsyncIterator[Any]:
    """:func:`get_logs` for ``AsyncWeb3``: the same pages, awaited."""
    pager = Pager(from_block, to_block, page)
    while (span := pager.next_range()) is not None:
        try:
            logs = await w3.eth.get_logs({**params, "fromBlock": span[0], "toBlock": span[1]})
        except Exception as exc:  # noqa: BLE001 - providers word their limits differently
            if pager.refusal(exc):
                continue
            raise
        for log in logs:
            yield log
        pager.accepted(span[1])


__all__ = ["DEFAULT_PAGE", "MIN_PAGE", "Pager", "async_get_logs", "get_logs"]
