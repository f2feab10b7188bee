"""EIP-2612 permits (no I/O): the typed-data message a token owner signs to approve by signature.

The token's EIP-712 domain comes from its ``eip712Domain()`` (ERC-5267) and the owner's permit
nonce from ``nonces(owner)``: a client reads each once, and those two reads also tell whether the
token supports permits at all (a token without them reverts on either).
"""

from __future__ import annotations

from typing import Any

#: How long a permit signed for a transaction stays valid, in seconds after the latest block.
PERMIT_LIFETIME = 3600

PERMIT_TYPES = {
    "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                     {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
    "Permit": [{"name": "owner", "type": "address"}, {"name": "spender", "type": "address"},
               {"name": "value", "type": "uint256"}, {"name": "nonce", "type": "uint256"},
               {"name": "deadline", "type": "uint256"}],
}


def permit_message(domain: tuple[Any, ...], *, owner: str, spender: str, value: int, nonce: int,
                   deadline: int) -> dict[str, Any]:
    """The EIP-712 message of a permit. ``domain`` is what ``eip712Domain()`` returned:
    ``(fields, name, version, chainId, verifyingContract, salt, extensions)``."""
    _, name, version, chain_id, verifying, _, _ = domain
    return {
        "types": PERMIT_TYPES,
        "primaryType": "Permit",
        "domain": {"name": name, "version": version, "chainId": int(chain_id), "verifyingContract": verifying},
        "message": {"owner": owner, "spender": spender, "value": int(value), "nonce": int(nonce),
                    "deadline": int(deadline)},
    }


def sign_permit(signer: Any, domain: tuple[Any, ...], *, owner: str, spender: str, value: int, nonce: int,
                deadline: int) -> tuple[int, int, bytes, bytes]:
    """Sign a permit with a local account: the contract's ``(deadline, v, r, s)`` argument."""
    from eth_account.messages import encode_typed_data

    message = permit_message(domain, owner=owner, spender=spender, value=value, nonce=nonce, deadline=deadline)
    signed = signer.sign_message(encode_typed_data(full_message=message))
    return (int(deadline), signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big"))


__all__ = ["PERMIT_LIFETIME", "PERMIT_TYPES", "permit_message", "sign_permit"]
