"""The registry of the suite's secrets, and the scanner that fails any test whose output shows one.

Every private key and password the suites use is registered here (the dev keys of the standard test
mnemonic and the fixed test passwords up front; keys made at run time through :func:`register`, e.g.
by the SDK harness, or the ``secrets`` fixture). The plugin in ``tests/conftest.py`` scans, for every
test phase, what pytest captured (stdout, stderr, log records), the failure report (traceback,
assertion text) and every output the CLI helpers saw (:func:`observe`: CliRunner results,
subprocesses, pseudo-terminals, including ``--json`` documents). A test whose output contains a
registered secret fails, and the secret is replaced by ``<redacted secret ...>`` in what is shown.

Hex keys are matched case-insensitively with or without ``0x``. Values shorter than
:data:`MIN_LENGTH` are refused (they would match by chance). eth-tester's built-in keys (the
integers 1..10) are not registered: they are indistinguishable from ABI-encoded small numbers.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any

MIN_LENGTH = 12
_HEX_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")

_lock = threading.Lock()
_secrets: dict[str, str] = {}  # needle (lower case) -> label (never the secret itself)
_observed: list[str] = []


def _needle(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value).hex()
    text = str(value)
    if _HEX_KEY.match(text.strip()):
        return text.strip().lower().removeprefix("0x")
    return text.lower()


def register(*values: Any, label: str = "secret") -> None:
    """Add secrets (private keys as hex/bytes, passwords, mnemonics, API keys) to the registry."""
    with _lock:
        for value in values:
            needle = _needle(value)
            if len(needle) < MIN_LENGTH:
                raise ValueError(f"a registered secret must have at least {MIN_LENGTH} characters")
            _secrets.setdefault(needle, f"{label} ...{needle[-4:]}")


def unregister(*values: Any) -> None:
    with _lock:
        for value in values:
            _secrets.pop(_needle(value), None)


def registered() -> dict[str, str]:
    with _lock:
        return dict(_secrets)


def observe(*texts: Any) -> None:
    """Record outputs a test saw without printing them (CLI results, subprocess output)."""
    with _lock:
        _observed.extend(t if isinstance(t, str) else str(t) for t in texts if t)


def drain_observed() -> list[str]:
    with _lock:
        texts = list(_observed)
        _observed.clear()
        return texts


def find(text: str, secrets: dict[str, str] | None = None) -> list[str]:
    """Labels (not values) of the registered secrets that appear in ``text``."""
    blob = text.lower()
    return sorted({label for needle, label in (secrets or registered()).items() if needle in blob})


def redact(text: str, secrets: dict[str, str] | None = None) -> str:
    for needle, label in (secrets or registered()).items():
        text = re.sub(re.escape(needle), f"<redacted {label}>", text, flags=re.IGNORECASE)
    return text


def check_report(report: Any, extra: Iterable[str] = ()) -> list[str]:
    """Scan a pytest report (captured sections, failure text) and ``extra`` outputs; on a leak, fail
    the report, redact the secrets from what it shows, and return where they appeared."""
    secrets = registered()
    if not secrets:
        return []
    leaks: list[str] = []
    sections = []
    for title, content in getattr(report, "sections", []):
        found = find(content, secrets)
        if found:
            leaks.append(f"{title}: {', '.join(found)}")
            content = redact(content, secrets)
        sections.append((title, content))
    longrepr = getattr(report, "longrepr", None)
    longtext = "" if longrepr is None else str(longrepr)
    found = find(longtext, secrets)
    if found:
        leaks.append(f"failure report: {', '.join(found)}")
    for index, text in enumerate(extra):
        found = find(text, secrets)
        if found:
            leaks.append(f"command output #{index + 1} seen by the test: {', '.join(found)}")
    if leaks:
        report.sections = sections
        note = "secret(s) appeared in the output of this test:\n  " + "\n  ".join(leaks)
        report.longrepr = note + ("\n\n" + redact(longtext, secrets) if longtext else "")
        report.outcome = "failed"
    return leaks


def _defaults() -> None:
    from p2pescrow.accounts import DEV_MNEMONIC
    from p2pescrow.node.process import dev_accounts

    for index, account in enumerate(dev_accounts(DEV_MNEMONIC, count=10)):
        register(account.private_key, label=f"dev{index} key")
    register(DEV_MNEMONIC, label="test mnemonic")
    register("correct horse battery staple", label="test password")  # also covers "... 42"
    register("0123456789abcdef0123456789abcdef", label="infura key")


_defaults()
