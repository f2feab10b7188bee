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

    /// @dev Each Record is one packed word (layout below) at the storage slot keccak256(account, asset,
    /// role), outside anything Solidity allocates (ERC-7201 style): a trade's end costs one hash, one
    /// SLOAD and one SSTORE per party.
    mapping(address account => mapping(address asset => mapping(Role role => Ratings))) private _ratings;

    /// @dev The deployer is the escrow (see the contract's note).
    constructor() {
        escrow = msg.sender;
    }

    /// @inheritdoc IReputation
    function recordOutcome(
        address buyer,
        address seller,
        address asset,
        uint256 amount,
        Outcome outcome
    ) external {
        if (msg.sender != escrow) revert NotEscrow(msg.sender);
        (uint256 buyerShift, uint256 sellerShift) = _counterShifts(outcome);
        bytes32 buyerKey = _key(buyer, asset, Role.Buyer);
        bytes32 sellerKey = _key(seller, asset, Role.Seller);
        _store(buyerKey, _add(_load(buyerKey), amount, buyerShift));
        _store(sellerKey, _add(_load(sellerKey), amount, sellerShift));
        // No event: the escrow's events (the ending, and what made the trade count) already say it, and
        // an event here would cost every recorded trade ~1.4k gas.
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

    // Record word layout, low bits first: volume (112), then six 24-bit counters in Record's order.
    uint256 private constant VOLUME_MASK = (1 << 112) - 1;
    uint256 private constant COUNTER_MASK = (1 << 24) - 1;
    uint256 private constant COMPLETED = 112;
    uint256 private constant REFUNDED = 136;
    uint256 private constant SETTLED = 160;
    uint256 private constant WON = 184;
    uint256 private constant LOST = 208;
    uint256 private constant SPLIT = 232;

    /// @dev Which counter the outcome bumps for the buyer and for the seller.
    function _counterShifts(Outcome outcome) private pure returns (uint256 buyerShift, uint256 sellerShift) {
        if (outcome == Outcome.Completed) return (COMPLETED, COMPLETED);
        if (outcome == Outcome.Refunded) return (REFUNDED, REFUNDED);
        if (outcome == Outcome.Settled) return (SETTLED, SETTLED);
        if (outcome == Outcome.BuyerWon) return (WON, LOST);
        if (outcome == Outcome.SellerWon) return (LOST, WON);
        return (SPLIT, SPLIT);
    }

    /// @dev The slot of a record: keccak256 of a 96-byte preimage, which no Solidity mapping slot (64-byte
    /// preimage) or fixed slot can equal.
    function _key(address account, address asset, Role role) private pure returns (bytes32 key) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, account)
            mstore(add(ptr, 0x20), asset)
            mstore(add(ptr, 0x40), role)
            key := keccak256(ptr, 0x60)
        }
    }

    function _load(bytes32 key) private view returns (uint256 word) {
        assembly ("memory-safe") {
            word := sload(key)
        }
    }

    function _store(bytes32 key, uint256 word) private {
        assembly ("memory-safe") {
            sstore(key, word)
        }
    }

    /// @dev Adds one trade to a record word. Each field wraps within its own bits rather than reverting
    /// or carrying into its neighbour: recording must never block the payout that triggered it.
    function _add(uint256 word, uint256 amount, uint256 shift) private pure returns (uint256) {
        unchecked {
            uint256 volume = (word + amount) & VOLUME_MASK;
            uint256 counter = ((word >> shift) + 1) & COUNTER_MASK;
            word = (word & ~VOLUME_MASK) | volume;
            return (word & ~(COUNTER_MASK << shift)) | (counter << shift);
        }
    }

    /// @inheritdoc IReputation
    function recordOf(address account, address asset, Role role)
        external
        view
        returns (Record memory record, Ratings memory ratings)
    {
        uint256 word = _load(_key(account, asset, role));
        record = Record({
            volume: uint112(word),
            completed: uint24(word >> COMPLETED),
            refunded: uint24(word >> REFUNDED),
            settled: uint24(word >> SETTLED),
            disputesWon: uint24(word >> WON),
            disputesLost: uint24(word >> LOST),
            disputesSplit: uint24(word >> SPLIT)
        });
        ratings = _ratings[account][asset][role];
    }
}
