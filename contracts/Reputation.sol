// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IReputation} from "./interfaces/IReputation.sol";

/// @title Reputation
/// @notice Public trade history of p2pescrow peers, priced by value: per account, asset and role, the
/// volume of its trades, how they ended, and the amount-weighted ratings its counterparties gave it.
/// @dev Note:
/// - Exactly one writer, bound at deployment: the escrow that creates this contract (its constructor
///   runs `new Reputation()`), recorded as the immutable `escrow`. There is no owner and no other
///   path to any record; nobody can edit one.
/// - The escrow records only what its own trades did, and only trades that cost something to fake: a
///   listed reputation asset, at least the asset's minimum, and both parties having entered the
///   trade knowingly (see P2PEscrow).
contract Reputation is IReputation {
    /// @inheritdoc IReputation
    address public immutable escrow;

    mapping(address account => mapping(address asset => mapping(Role role => Record))) private _records;
    mapping(address account => mapping(address asset => mapping(Role role => Ratings))) private _ratings;

    /// @dev The deployer is the escrow (see the contract's note).
    constructor() {
        escrow = msg.sender;
    }

    /// @inheritdoc IReputation
    function recordOutcome(
        bytes32 tradeId,
        address buyer,
        address seller,
        address asset,
        uint256 amount,
        Outcome outcome
    ) external {
        if (msg.sender != escrow) revert NotEscrow(msg.sender);
        Record storage b = _records[buyer][asset][Role.Buyer];
        Record storage s = _records[seller][asset][Role.Seller];
        // Counters wrap rather than revert: recording must never block the payout that triggered it.
        unchecked {
            uint112 volume = uint112(amount);
            b.volume += volume;
            s.volume += volume;
            if (outcome == Outcome.Completed) {
                b.completed += 1;
                s.completed += 1;
            } else if (outcome == Outcome.Refunded) {
                b.refunded += 1;
                s.refunded += 1;
            } else if (outcome == Outcome.Settled) {
                b.settled += 1;
                s.settled += 1;
            } else if (outcome == Outcome.BuyerWon) {
                b.disputesWon += 1;
                s.disputesLost += 1;
            } else if (outcome == Outcome.SellerWon) {
                b.disputesLost += 1;
                s.disputesWon += 1;
            } else {
                b.disputesSplit += 1;
                s.disputesSplit += 1;
            }
        }
        emit OutcomeRecorded(tradeId, outcome);
    }

    /// @inheritdoc IReputation
    function recordRating(
        bytes32 tradeId,
        address rater,
        address ratee,
        Role role,
        address asset,
        uint256 amount,
        uint8 score,
        bytes32 commentHash
    ) external {
        if (msg.sender != escrow) revert NotEscrow(msg.sender);
        Ratings storage r = _ratings[ratee][asset][role];
        unchecked {
            r.ratedVolume += uint112(amount);
            r.weightedScore += uint120(amount) * score;
            r.count += 1;
        }
        emit Rated(tradeId, rater, ratee, role, asset, amount, score, commentHash);
    }

    /// @inheritdoc IReputation
    function recordOf(address account, address asset, Role role)
        external
        view
        returns (Record memory record, Ratings memory ratings)
    {
        return (_records[account][asset][role], _ratings[account][asset][role]);
    }
}
