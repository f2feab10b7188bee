"""Helpers of the brownie suite (imported as tests_brownie.helpers: the project root is on
sys.path under brownie, and the main suite's pythonpath makes a bare `conftest` its own)."""

from __future__ import annotations

from p2pescrow.models import FLAG_RECORD_REPUTATION, ZERO_ADDRESS, Terms

FEE_BPS = 25
ETHER = 10**18
DAY = 86_400


def terms(buyer, seller, amount=ETHER, *, token=ZERO_ADDRESS, arbiter=ZERO_ADDRESS, arbiter_fee_bps=0,
          salt=1, flags=FLAG_RECORD_REPUTATION, fee_bps=FEE_BPS) -> tuple:
    """A Terms struct as a tuple (brownie encodes tuples for struct arguments)."""
    return Terms(str(buyer), str(seller), str(token), str(arbiter), amount, arbiter_fee_bps, fee_bps,
                 DAY, 3 * DAY, 7 * DAY, flags, b"\0" * 32, salt).as_tuple()
