"""The market's pages, server-rendered HTML at ``/`` (filled in by the pages' own work)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
