// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title Attackers
/// @notice Contracts that perform attacks on the escrow in the test suite. Never deployed by scripts.

/// @notice A contract that acts as a trade party (it forwards calls) and misbehaves when paid.
/// Modes: Accept (a normal wallet), Revert (rejects ETH), Reenter (calls `reentryTarget` with
/// `reentryData` from its receive hook and records the outcome), BurnGas (loops until out of gas),
/// ReturnBomb (returns a huge buffer).
contract MaliciousParty {
    enum Mode {
        Accept,
        Revert,
        Reenter,
        BurnGas,
        ReturnBomb
    }

    Mode public mode;
    address public reentryTarget;
    bytes public reentryData;
    uint256 public reentryAttempts;
    bool public reentrySucceeded;
    bytes public reentryRevertData;

    function setMode(Mode mode_) external {
        mode = mode_;
    }

    function setReentry(address target, bytes calldata data) external {
        reentryTarget = target;
        reentryData = data;
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

    /// @notice Approves a token for the escrow, as a party would.
    function approve(address token, address spender, uint256 amount) external {
        ERC20(token).approve(spender, amount);
    }

    receive() external payable {
        _onPaid();
    }

    /// @dev Also reached by token callbacks in ReentrantToken.
    function onTokenTransfer() external {
        _onPaid();
    }

    function _onPaid() private {
        if (mode == Mode.Revert) revert("no thanks");
        if (mode == Mode.Reenter && reentryAttempts == 0) {
            reentryAttempts += 1;
            (bool ok, bytes memory ret) = reentryTarget.call(reentryData);
            reentrySucceeded = ok;
            reentryRevertData = ret;
        } else if (mode == Mode.BurnGas) {
            uint256 i;
            while (true) {
                i++;
            }
        } else if (mode == Mode.ReturnBomb) {
            assembly {
                revert(0, 1000000)
            }
        }
    }
}

/// @notice An ERC-20 that, when it moves tokens, calls `hookTarget` with `hookData` once (a re-entrant
/// token), recording whether the re-entrant call succeeded.
contract ReentrantToken is ERC20 {
    address public hookTarget;
    bytes public hookData;
    bool public armed;
    bool public reentrySucceeded;
    bytes public reentryRevertData;

    constructor() ERC20("Reentrant", "REE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function arm(address target, bytes calldata data) external {
        hookTarget = target;
        hookData = data;
        armed = true;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (armed && from != address(0)) {
            armed = false;
            (bool ok, bytes memory ret) = hookTarget.call(hookData);
            reentrySucceeded = ok;
            reentryRevertData = ret;
        }
    }
}

/// @notice Forces ETH into a contract with selfdestruct (no receive hook runs).
contract ForceSend {
    constructor(address payable target) payable {
        selfdestruct(target);
    }
}
