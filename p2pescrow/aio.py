"""The asyncio SDK's import path, kept for code written against it: see :mod:`p2pescrow.clients.aio`."""

from __future__ import annotations

from .clients.aio import AsyncEscrowClient

__all__ = ["AsyncEscrowClient"]
