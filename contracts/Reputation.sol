// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IReputation} from "./interfaces/IReputation.sol";

/// @title Reputation
/// @notice Public trade history of p2pescrow peers: how each address's trades ended and how its
/// counterparties rated it.
/// @dev Note: only escrow contracts the owner authorised can write, and an escrow writes only what its
/// own trades did: an outcome when a trade ends, a rating when a party of a finished trade in which the
/// seller was paid rates the other (the escrow enforces one rating per party per trade). A fake rating
/// therefore costs a real, funded trade and its fees. The owner manages the escrow list and nothing
/// else; it cannot edit records.
contract Reputation is IReputation, Ownable2Step {
    // ---------------------------------------------------------------------------------------------
    // Storage
    // ---------------------------------------------------------------------------------------------

    /// @notice Escrow contracts allowed to record.
    mapping(address escrow => bool) public isAuthorisedEscrow;

    /// @dev One slot per address for outcomes (touched once per party when a trade ends) ...
    mapping(address account => Record) private _records;
    /// @dev ... and the sum of received scores apart, so that ending a trade never touches it.
    mapping(address account => uint256) private _ratingSum;

    // ---------------------------------------------------------------------------------------------
    // Modifiers
    // ---------------------------------------------------------------------------------------------

    modifier onlyEscrow() {
        if (!isAuthorisedEscrow[msg.sender]) revert NotAuthorisedEscrow(msg.sender);
        _;
    }

    /// @param owner_ The account that manages the escrow list.
    constructor(address owner_) Ownable(owner_) {}

    // ---------------------------------------------------------------------------------------------
    // External functions
    // ---------------------------------------------------------------------------------------------

    /// @notice Authorises (or de-authorises) an escrow contract to record outcomes and ratings.
    /// @param escrow The escrow contract.
    /// @param authorised True to allow, false to revoke.
    function setEscrow(address escrow, bool authorised) external onlyOwner {
        if (escrow == address(0)) revert ZeroEscrow();
        isAuthorisedEscrow[escrow] = authorised;
        emit EscrowAuthorised(escrow, authorised);
    }

    /// @inheritdoc IReputation
    function recordOutcome(bytes32 tradeId, address buyer, address seller, Outcome outcome)
        external
        onlyEscrow
    {
        Record storage b = _records[buyer];
        Record storage s = _records[seller];
        // Counters wrap rather than revert: recording must never block the payout that triggered it.
        unchecked {
            if (outcome == Outcome.Completed) {
                b.completedAsBuyer += 1;
                s.completedAsSeller += 1;
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
        emit OutcomeRecorded(msg.sender, tradeId, outcome);
    }

    /// @inheritdoc IReputation
    function recordRating(bytes32 tradeId, address rater, address ratee, uint8 score, bytes32 commentHash)
        external
        onlyEscrow
    {
        unchecked {
            _records[ratee].ratingCount += 1;
            _ratingSum[ratee] += score;
        }
        emit Rated(tradeId, rater, ratee, score, commentHash);
    }

    // ---------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------

    /// @notice An address's whole record in one call.
    /// @param account The address.
    /// @return record Outcome counters and the number of ratings received.
    /// @return ratingSum The sum of the scores received (average = ratingSum / record.ratingCount).
    function recordOf(address account) external view returns (Record memory record, uint256 ratingSum) {
        return (_records[account], _ratingSum[account]);
    }
}
