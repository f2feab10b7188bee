"""The command groups. Each module registers its commands on import; each command parses its
arguments, calls one SDK function and renders the result."""

from . import demo as demo
from . import node as node
from . import deploy as deploy
from . import accounts as accounts
from . import networks as networks
from . import offer as offer
from . import market as market
from . import serve as serve
from . import bond as bond
from . import fees as fees
from . import rep as rep
from . import trade as trade
from . import tx as tx
