"""Canonical JSON, RFC 8785 (JSON Canonicalization Scheme): one byte string per JSON value, so that a
document's hash means the same thing to everyone who reads it (no I/O, no dependencies).

    canonical({"b": [1, True, None], "a": "€"})   # b'{"a":"\\xe2\\x82\\xac","b":[1,true,null]}'

The rules (RFC 8785, section 3.2): no whitespace; object members sorted by their names as UTF-16
code units; strings as ECMAScript's ``JSON.stringify`` writes them (only ``"``, ``\\`` and control
characters escaped, everything else as UTF-8); numbers as ECMAScript writes an IEEE 754 double
(``Number.prototype.toString``: shortest round-trip digits, ``1e+21`` from 10^21 up and below 10^-6).
What cannot be represented exactly is refused instead of changed: an integer beyond 2^53 (write it as
a string, as amounts in base units are), NaN and infinities, a string with a lone surrogate, a key
that is not a string.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["CanonicalJsonError", "canonical", "canonical_text", "parse"]

#: The largest integer a double holds exactly (and every smaller one): I-JSON's safe range.
MAX_SAFE_INTEGER = 2**53

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


class CanonicalJsonError(ValueError):
    """A value that has no canonical JSON form (RFC 8785): what it is and where."""


def _string(text: str, where: str) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF:
            raise CanonicalJsonError(f"{where}: a lone surrogate (U+{code:04X}) is not valid Unicode text")
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif code < 0x20:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _number(value: float, where: str) -> str:
    """A double as ECMAScript's Number.prototype.toString writes it (RFC 8785, section 3.2.2.3)."""
    if not math.isfinite(value):
        raise CanonicalJsonError(f"{where}: {value} is not a JSON number")
    if value == 0:
        return "0"  # -0 too
    if value < 0:
        return "-" + _number(-value, where)
    # repr() gives the shortest digits that round-trip, closest to the value: ECMAScript's digits.
    _, digits_tuple, exponent = Decimal(repr(value)).as_tuple()
    all_digits = "".join(map(str, digits_tuple))
    digits = all_digits.rstrip("0")
    exponent = int(exponent) + len(all_digits) - len(digits)  # the zeros stripped
    k = len(digits)
    n = exponent + k  # value = 0.digits * 10^n
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    e = n - 1
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"


def _utf16_key(name: str) -> bytes:
    # Big-endian UTF-16 bytes compare as the code units do (surrogates are refused before this).
    return name.encode("utf-16-be")


def _value(value: Any, where: str) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _string(value, where)
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalJsonError(f"{where}: the integer {value} is beyond 2^53, where JSON numbers stop "
                                     "being exact: write it as a string")
        return str(int(value))
    if isinstance(value, float):
        return _number(value, where)
    if isinstance(value, Mapping):
        members = []
        for key in value:
            if not isinstance(key, str):
                raise CanonicalJsonError(f"{where}: object keys must be strings, not {key!r}")
            _string(key, where)  # refuses lone surrogates before sorting
        for key in sorted(value, key=_utf16_key):
            members.append(_string(key, where) + ":" + _value(value[key], f"{where}.{key}"))
        return "{" + ",".join(members) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_value(item, f"{where}[{i}]") for i, item in enumerate(value)) + "]"
    raise CanonicalJsonError(f"{where}: {type(value).__name__} is not a JSON value")


def canonical_text(value: Any) -> str:
    """``value`` (dicts, lists, strings, ints, floats, booleans, None) as canonical JSON text."""
    return _value(value, "$")


def canonical(value: Any) -> bytes:
    """``value`` as canonical JSON, UTF-8 encoded: the bytes to hash or sign."""
    return canonical_text(value).encode("utf-8")


def _parse_int(text: str) -> int | float:
    number = int(text)
    return number if abs(number) <= MAX_SAFE_INTEGER else float(text)  # a JSON number is a double


def _no_constant(name: str) -> Any:
    raise CanonicalJsonError(f"{name} is not a JSON number")


def parse(data: str | bytes) -> Any:
    """JSON text (or UTF-8 bytes) as Python values, numbers read as doubles as RFC 8785 reads them
    (an integer within 2^53 stays an ``int``). Duplicate member names are refused."""
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, val in items:
            if key in out:
                raise CanonicalJsonError(f"duplicate member name {key!r}")
            out[key] = val
        return out

    text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    try:
        return json.loads(text, parse_int=_parse_int, parse_constant=_no_constant, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise CanonicalJsonError(f"not JSON: {exc}") from None
