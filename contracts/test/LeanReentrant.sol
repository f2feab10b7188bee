// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title LeanReentrant
/// @notice A trade party (it forwards calls, like MaliciousParty) that re-enters the escrow from its ETH
/// receive hook *within the escrow's 50,000-gas payout stipend*. Never deployed by scripts.
/// @dev MaliciousParty's Reenter mode keeps its bookkeeping in fresh storage and reads the re-entry
/// calldata (~15 slots for a call carrying terms) from storage, ~60k gas: under the stipend it runs out
/// of gas before it re-enters and is simply credited, so it never exercises the escrow's guards on ETH
/// payouts. This one keeps its state in one packed slot that is already non-zero (2,900 gas to write),
/// keeps the calldata in the code of a data contract (SSTORE2: EXTCODECOPY, ~3k gas), and reports the
/// re-entrant call's full return data in an event rather than in storage. The hook costs ~12k gas
/// plus the re-entrant call, so the attempt really happens and tests see how it ended.
contract LeanReentrant {
    // Slot 0, packed and made non-zero by `arm` (reentryTarget), so the hook's writes are cheap.
    bool public armed;
    bool public reentrySucceeded;
    uint16 public reentryAttempts;
    bytes4 public reentrySelector;
    address public reentryTarget;
    // Slot 1.
    address private _dataPointer;

    /// @notice The re-entrant call was made; `ret` is its return or revert data.
    event Reentered(bool ok, bytes ret);

    /// @notice Re-enter `target` with `data` on the next ETH receipt (once).
    function arm(address target, bytes calldata data) external {
        bytes memory init = abi.encodePacked(hex"61", uint16(data.length + 1), hex"80600a3d393df300", data);
        address pointer;
        assembly ("memory-safe") {
            pointer := create(0, add(init, 0x20), mload(init))
        }
        require(pointer != address(0), "data contract");
        _dataPointer = pointer;
        reentryTarget = target;
        armed = true;
    }

    /// @notice The calldata the hook will send.
    function reentryData() public view returns (bytes memory data) {
        address pointer = _dataPointer;
        uint256 size = pointer.code.length;
        if (size == 0) return data;
        data = new bytes(size - 1);
        assembly ("memory-safe") {
            extcodecopy(pointer, add(data, 0x20), 1, sub(size, 1))
        }
    }

    /// @notice Forwards a call as this contract (so it can be buyer, seller or arbiter).
    function execute(address target, bytes calldata data) external payable returns (bytes memory) {
        (bool ok, bytes memory ret) = target.call{value: msg.value}(data);
        if (!ok) {
            assembly {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        return ret;
    }

    receive() external payable {
        if (!armed) return;
        armed = false;
        reentryAttempts += 1;
        (bool ok, bytes memory ret) = reentryTarget.call(reentryData());
        reentrySucceeded = ok;
        if (ret.length >= 4) reentrySelector = bytes4(ret);
        emit Reentered(ok, ret);
    }
}
