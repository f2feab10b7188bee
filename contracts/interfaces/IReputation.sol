// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IReputation
/// @notice What the one escrow bound to a reputation contract reports to it, and what anyone can read.
/// @dev Note: every record is kept per account, per asset and per role, and carries value: the volume
/// of the trades behind it and the amount-weighted sum of the ratings. A reader ignores any asset it
/// does not trust, and a rating on a small trade weighs little.
interface IReputation {
    /// @notice How a trade ended, as recorded for both of its parties.
    enum Outcome {
        Completed, // seller paid (released in full or in parts, or released on timeout)
        Refunded, // everything went back to the buyer
        Settled, // the parties agreed a split
        BuyerWon, // the arbiter (or the seller, by conceding) gave everything to the buyer
        SellerWon, // the arbiter (or the buyer, by conceding) gave everything to the seller
        Split // the arbiter split, or the dispute expired and the fallback split evenly
    }

    /// @notice The side of a trade an account was on.
    enum Role {
        Buyer,
        Seller
    }

    /// @notice One account's outcomes in one asset and role: one storage slot (112 + 6 x 24 bits).
    /// Fields wrap instead of reverting, so that recording can never block the payout that triggers it
    /// (2^112 units of volume or 16.7 million trades per account, asset and role are out of reach).
    /// @param volume Sum of the prices of the recorded trades.
    struct Record {
        uint112 volume;
        uint24 completed;
        uint24 refunded;
        uint24 settled;
        uint24 disputesWon;
        uint24 disputesLost;
        uint24 disputesSplit;
    }

    /// @notice The ratings one account received in one asset and role: one storage slot.
    /// @param ratedVolume Sum of the prices of the rated trades.
    /// @param weightedScore Sum of score x price over those trades (average = weightedScore / ratedVolume).
    /// @param count How many ratings.
    struct Ratings {
        uint112 ratedVolume;
        uint120 weightedScore;
        uint24 count;
    }

    /// @notice The caller is not the escrow this contract is bound to.
    /// @param caller The caller.
    error NotEscrow(address caller);

    /// @notice A party rated its counterparty, who was `role` in a trade of `amount` of `asset`.
    event Rated(
        bytes32 indexed tradeId,
        address indexed rater,
        address indexed ratee,
        Role role,
        address asset,
        uint256 amount,
        uint8 score,
        bytes32 commentHash
    );

    /// @notice The escrow that writes every record; bound once, when it created this contract.
    /// @return The escrow.
    function escrow() external view returns (address);

    /// @notice Records how a trade ended, for both parties. Only the escrow. (Which trade it was is in the
    /// escrow's events; the record only needs the parties, the value and the outcome.)
    /// @param buyer The trade's buyer.
    /// @param seller The trade's seller.
    /// @param asset The trade's asset (address(0) for ETH).
    /// @param amount The trade's price.
    /// @param outcome How it ended.
    function recordOutcome(
        address buyer,
        address seller,
        address asset,
        uint256 amount,
        Outcome outcome
    ) external;

    /// @notice Records a rating. Only the escrow, which checks that the rater may rate.
    /// @param tradeId The rated trade.
    /// @param rater The party rating.
    /// @param ratee The counterparty rated.
    /// @param role The ratee's role in the trade.
    /// @param asset The trade's asset.
    /// @param amount The trade's price.
    /// @param score 1 to 5.
    /// @param commentHash Hash of an off-chain comment, or zero.
    function recordRating(
        bytes32 tradeId,
        address rater,
        address ratee,
        Role role,
        address asset,
        uint256 amount,
        uint8 score,
        bytes32 commentHash
    ) external;

    /// @notice One account's record and ratings in one asset and role.
    /// @param account The account.
    /// @param asset The asset (address(0) for ETH).
    /// @param role Buyer or Seller.
    /// @return record The outcomes and volume.
    /// @return ratings The ratings received.
    function recordOf(address account, address asset, Role role)
        external
        view
        returns (Record memory record, Ratings memory ratings);
}
