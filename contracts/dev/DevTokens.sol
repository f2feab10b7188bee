// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title Dev tokens
/// @notice Tokens for a local development chain, so a newcomer can try ERC-20 trades there:
/// `p2pescrow node start` deploys one of each, mints to the dev accounts and records them.
/// @dev Note: these are not test doubles (those live in contracts/test/ and are never shipped): they
/// ship with the package because the node manager deploys them from an installed wheel. They carry
/// no value and are never deployed on a chain that is not a local dev chain. The constructor mints to
/// the dev accounts in the deploying transaction (one transaction, not one per account); afterwards
/// only the deployer (dev0) mints, which is what `p2pescrow node fund` does. The standard
/// OpenZeppelin ERC-20 behaviour is otherwise unchanged.

/// @notice A plain ERC-20 with 6 decimals, like the stablecoins peers trade for.
contract DevToken is ERC20, Ownable {
    /// @param name_ The token's name.
    /// @param symbol_ The token's symbol.
    /// @param holders Accounts credited `amountEach` at deployment.
    /// @param amountEach The amount each holder gets, in base units.
    constructor(string memory name_, string memory symbol_, address[] memory holders, uint256 amountEach)
        ERC20(name_, symbol_)
        Ownable(msg.sender)
    {
        for (uint256 i = 0; i < holders.length; ++i) {
            _mint(holders[i], amountEach);
        }
    }

    /// @notice Six decimals, as USDC and USDT use.
    /// @return The number of decimals of an amount.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Create `amount` tokens for `to` (the deployer only).
    /// @param to The account credited.
    /// @param amount The amount, in base units.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}

/// @notice An ERC-20 with EIP-2612 permit (18 decimals): trades in it fund in one transaction.
contract DevPermitToken is ERC20Permit, Ownable {
    /// @param name_ The token's name (also its EIP-712 domain name).
    /// @param symbol_ The token's symbol.
    /// @param holders Accounts credited `amountEach` at deployment.
    /// @param amountEach The amount each holder gets, in base units.
    constructor(string memory name_, string memory symbol_, address[] memory holders, uint256 amountEach)
        ERC20(name_, symbol_)
        ERC20Permit(name_)
        Ownable(msg.sender)
    {
        for (uint256 i = 0; i < holders.length; ++i) {
            _mint(holders[i], amountEach);
        }
    }

    /// @notice Create `amount` tokens for `to` (the deployer only).
    /// @param to The account credited.
    /// @param amount The amount, in base units.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
