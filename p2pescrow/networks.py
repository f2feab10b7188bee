"""Named networks: the built-in dev chains and the user's own, kept in ``<config dir>/networks.json``.

RPC URLs of public chains come from the user (they often embed an API key): nothing here ships one.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from .config import config_dir
from .errors import ConfigError, InputError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Network:
    """A chain to talk to. ``rpc_url`` is None for the embedded in-process chain."""

    name: str
    rpc_url: str | None
    chain_id: int | None
    explorer: str | None = None
    builtin: bool = False
    dev: bool = False  # a local dev chain: the funded dev accounts (dev0..dev9) may be used

    def tx_link(self, tx_hash: str) -> str | None:
        return f"{self.explorer.rstrip('/')}/tx/{tx_hash}" if self.explorer else None


BUILTIN: dict[str, Network] = {
    "local": Network("local", "http://127.0.0.1:8545", 31337, builtin=True, dev=True),
    "ganache": Network("ganache", "http://127.0.0.1:8546", 1337, builtin=True, dev=True),
    "embedded": Network("embedded", None, None, builtin=True, dev=True),
}


class Networks:
    """The built-in networks plus the user's, from a JSON file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / "networks.json"

    def _user(self) -> dict[str, Network]:
        if not self.path.exists():
            return {}
        try:
            raw = json.loads(self.path.read_text())
            return {name: Network(**fields) for name, fields in raw.items()}
        except (json.JSONDecodeError, TypeError) as exc:
            raise ConfigError(f"{self.path} is not a valid networks file: {exc}") from None

    def all(self) -> list[Network]:
        return [*BUILTIN.values(), *self._user().values()]

    def get(self, name: str) -> Network:
        if name in BUILTIN:
            return BUILTIN[name]
        user = self._user()
        if name not in user:
            known = ", ".join(n.name for n in self.all())
            raise ConfigError(f"unknown network {name!r} (known: {known})",
                              hint="add it with `p2pescrow networks add NAME --rpc-url URL --chain-id ID`")
        return user[name]

    def add(self, network: Network) -> None:
        if not _NAME.match(network.name):
            raise InputError(f"invalid network name {network.name!r}: letters, digits, . _ - only")
        if network.name in BUILTIN:
            raise InputError(f"{network.name!r} is a built-in network; choose another name")
        if not network.rpc_url or not network.rpc_url.startswith(("http://", "https://", "ws://", "wss://")):
            raise InputError(f"invalid RPC URL {network.rpc_url!r}: expected http(s):// or ws(s)://")
        user = self._user()
        user[network.name] = network
        self._write(user)

    def remove(self, name: str) -> None:
        if name in BUILTIN:
            raise InputError(f"{name!r} is built in and cannot be removed")
        user = self._user()
        if name not in user:
            raise ConfigError(f"unknown network {name!r}")
        del user[name]
        self._write(user)

    def _write(self, user: dict[str, Network]) -> None:
        """Atomically, mode 0600: RPC URLs often embed an API key."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".networks.")  # created 0600
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps({n: asdict(v) for n, v in user.items()}, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.path)
