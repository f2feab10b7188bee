"""Turn solc's standard-JSON output into the JSON files the SDK ships and loads.

Pure functions over the compiler output plus deterministic serialisation: the same output must
give byte-identical files, so ``--check`` and the tests can compare them with the committed ones.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from eth_hash.auto import keccak

from .errors import BuildError

#: File name of the custom-error index written next to the contract artifacts.
ERRORS_FILE = "errors.json"


def dumps(document: Mapping[str, Any]) -> str:
    """Deterministic JSON text: indent 2, sorted keys, ASCII only, trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def contract_artifact(
    unit: str,
    name: str,
    compiled: Mapping[str, Any],
    *,
    compiler_version: str,
    settings: Mapping[str, Any],
    source_hash: str,
) -> dict[str, Any]:
    """The artifact of contract ``name`` from source unit ``unit``.

    Bytecode still holding library placeholders (``__$...$__``) is refused: nothing here links
    libraries, and an unlinked artifact would only fail later, at deployment.
    """
    bytecode = compiled["evm"]["bytecode"]["object"]
    deployed = compiled["evm"]["deployedBytecode"]["object"]
    if "__$" in bytecode or "__$" in deployed:
        raise BuildError(
            f"{unit}:{name} needs library linking, which the build does not do; make the "
            "library functions internal."
        )
    return {
        "contractName": name,
        "sourceName": unit,
        "abi": compiled["abi"],
        "bytecode": "0x" + bytecode,
        "deployedBytecode": "0x" + deployed,
        "devdoc": compiled.get("devdoc", {}),
        "userdoc": compiled.get("userdoc", {}),
        "compiler": {"version": compiler_version, "settings": settings},
        "sourceHash": source_hash,
    }


def canonical_type(param: Mapping[str, Any]) -> str:
    """The ABI type of ``param`` as it appears in a signature (tuples spelled out)."""
    kind: str = param["type"]
    if kind.startswith("tuple"):
        inner = ",".join(canonical_type(c) for c in param.get("components", []))
        return f"({inner}){kind[len('tuple') :]}"
    return kind


def error_signature(entry: Mapping[str, Any]) -> str:
    """``Name(type1,type2)`` of an ABI error entry."""
    return f"{entry['name']}({','.join(canonical_type(p) for p in entry.get('inputs', []))})"


def error_selector(signature: str) -> str:
    """``0x`` + the first four bytes of keccak256(signature), as solc and the EVM use."""
    return "0x" + keccak(signature.encode("ascii"))[:4].hex()


def _error_definitions(output: Mapping[str, Any]) -> dict[str, set[str]]:
    """selector -> where it is declared (``unit:Contract``, or ``unit`` at file level), from
    the file-level ASTs. The ABI only tells which contracts *can raise* an error (inherited and
    library errors included); the AST tells where it comes from."""
    defined: dict[str, set[str]] = {}
    for unit, source in output.get("sources", {}).items():
        ast = source.get("ast") or {}
        for node in ast.get("nodes", []):
            if node.get("nodeType") == "ErrorDefinition" and "errorSelector" in node:
                defined.setdefault("0x" + node["errorSelector"], set()).add(unit)
            elif node.get("nodeType") == "ContractDefinition":
                for member in node.get("nodes", []):
                    if member.get("nodeType") == "ErrorDefinition" and "errorSelector" in member:
                        where = f"{unit}:{node['name']}"
                        defined.setdefault("0x" + member["errorSelector"], set()).add(where)
    return defined


def _compiled_contracts(output: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(unit, contract name, compiled contract) in sorted order, for deterministic results."""
    contracts = output.get("contracts", {})
    for unit in sorted(contracts):
        for name in sorted(contracts[unit]):
            yield unit, name, contracts[unit][name]


def error_index(output: Mapping[str, Any], *, source_hash: str) -> dict[str, Any]:
    """Every custom error in the compiled output, once per selector, with where it is declared.

    Includes errors of every contract, interface and library in the input — OpenZeppelin's as
    well (IERC20Errors, SafeERC20FailedOperation, ECDSA..., Ownable...) — so the SDK can map any
    revert selector to an exception class. Two *different* signatures sharing a selector would
    make that mapping ambiguous and fail the build.
    """
    defined = _error_definitions(output)
    entries: dict[str, dict[str, Any]] = {}
    for unit, name, compiled in _compiled_contracts(output):
        for item in compiled.get("abi", []):
            if item.get("type") != "error":
                continue
            signature = error_signature(item)
            selector = error_selector(signature)
            known = entries.get(selector)
            if known is not None:
                if known["signature"] != signature:
                    raise BuildError(
                        f"error selector {selector} is shared by {known['signature']} and "
                        f"{signature} ({unit}:{name}); rename one of them."
                    )
                continue
            entries[selector] = {
                "selector": selector,
                "signature": signature,
                "name": item["name"],
                "abi": item,
                "definedIn": sorted(defined.get(selector) or {f"{unit}:{name}"}),
            }
    return {"sourceHash": source_hash, "errors": [entries[s] for s in sorted(entries)]}


def read_source_hash(path: Path) -> str | None:
    """The ``sourceHash`` recorded in artifact ``path``, or None if missing or unreadable."""
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("sourceHash")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` atomically unless it already holds exactly that.

    Returns whether the file changed. Unchanged files keep their mtime, so tools watching the
    artifacts (and ``make``) see only real changes.
    """
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8", newline="\n")
    os.replace(tmp, path)
    return True
