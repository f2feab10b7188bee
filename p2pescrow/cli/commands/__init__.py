"""The command groups. Each module registers its commands on import; each command parses its
arguments, calls one SDK function and renders the result."""

from . import demo as demo  # noqa: F401
from . import node as node  # noqa: F401
from . import deploy as deploy  # noqa: F401
from . import accounts as accounts  # noqa: F401
from . import networks as networks  # noqa: F401
from . import offer as offer  # noqa: F401
from . import rep as rep  # noqa: F401
from . import trade as trade  # noqa: F401
