"""Helpers of the brownie suite (imported as tests_brownie.helpers: the project root is on
sys.path under brownie, and the main suite's pythonpath makes a bare `conftest` its own)."""

from __future__ import annotations

from p2pescrow.models import FLAG_RECORD_REPUTATION, ZERO_ADDRESS, Terms

FEE_BPS = 25
BPS = 10_000
ETHER = 10**18
DAY = 86_400
SELLER = 1  # Reputation.Role


def terms(buyer, seller, amount=ETHER, *, token=ZERO_ADDRESS, arbiter=ZERO_ADDRESS, arbiter_fee_bps=0,
          buyer_deposit=0, seller_deposit=0, salt=1, flags=FLAG_RECORD_REPUTATION, fee_bps=FEE_BPS) -> tuple:
    """A Terms struct as a tuple (brownie encodes tuples for struct arguments): 1-day funding, 3-day
    release and 7-day arbitration windows."""
    return Terms(str(buyer), str(seller), str(token), str(arbiter), amount, buyer_deposit, seller_deposit,
                 arbiter_fee_bps, fee_bps, DAY, 3 * DAY, 7 * DAY, flags, b"\0" * 32, salt).as_tuple()


def pay_in(t: tuple) -> int:
    """What the buyer pays to fund `t`: the price and its deposit (msg.value for ETH)."""
    return t[4] + t[5]


def fee(amount: int, bps: int = FEE_BPS) -> int:
    """The platform fee on `amount`, rounded up as the contract rounds it."""
    return (amount * bps + BPS - 1) // BPS
