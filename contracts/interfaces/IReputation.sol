// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IReputation
/// @notice What an authorised escrow reports to the reputation contract, and what anyone can read.
interface IReputation {
    /// @notice How a trade ended, as recorded for both of its parties.
    enum Outcome {
        Completed, // seller paid (released in full or in parts, or released on timeout)
        Refunded, // everything went back to the buyer
        Settled, // the parties agreed a split
        BuyerWon, // the arbiter gave everything to the buyer
        SellerWon, // the arbiter gave everything to the seller
        Split // the arbiter split, or the dispute expired and the fallback split evenly
    }

    /// @notice An address's whole record. Counters are uint32 and wrap instead of reverting, so that
    /// recording can never block a trade from ending (4.29 billion trades per address is out of reach).
    struct Record {
        uint32 completedAsBuyer;
        uint32 completedAsSeller;
        uint32 settled;
        uint32 refunded;
        uint32 disputesWon;
        uint32 disputesLost;
        uint32 disputesSplit;
        uint32 ratingCount;
    }

    /// @notice The caller is not an authorised escrow.
    /// @param caller The caller.
    error NotAuthorisedEscrow(address caller);
    /// @notice The zero address cannot be authorised.
    error ZeroEscrow();

    /// @notice A trade's outcome was recorded for its parties.
    event OutcomeRecorded(address indexed escrow, bytes32 indexed tradeId, Outcome outcome);
    /// @notice A party rated its counterparty.
    event Rated(bytes32 indexed tradeId, address indexed rater, address indexed ratee, uint8 score, bytes32 commentHash);
    /// @notice The owner authorised or de-authorised an escrow contract.
    event EscrowAuthorised(address indexed escrow, bool authorised);

    /// @notice Records how a trade ended. Only authorised escrows.
    /// @param tradeId The trade's id in the calling escrow.
    /// @param buyer The trade's buyer.
    /// @param seller The trade's seller.
    /// @param outcome How it ended.
    function recordOutcome(bytes32 tradeId, address buyer, address seller, Outcome outcome) external;

    /// @notice Records a rating. Only authorised escrows, which check that the rater may rate.
    /// @param tradeId The rated trade.
    /// @param rater The party rating.
    /// @param ratee The counterparty rated.
    /// @param score 1 to 5.
    /// @param commentHash Hash of an off-chain comment, or zero.
    function recordRating(bytes32 tradeId, address rater, address ratee, uint8 score, bytes32 commentHash) external;
}
