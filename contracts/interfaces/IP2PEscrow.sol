// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IP2PEscrow
/// @notice Types, errors and events of the p2pescrow escrow contract, version 2.
/// @dev Note:
/// - A trade is identified by `keccak256(abi.encode(terms))`. The terms never change after creation and
///   are not stored: every call that acts on a trade passes them again in calldata, and the contract
///   keeps one packed storage slot of mutable state per trade (`Escrow`). Clients rebuild the terms
///   from the `TradeCreated` event, which carries all of them.
/// - Deposits. The terms name a buyer deposit and a seller deposit in the trade's asset (either may be
///   zero). The buyer pays its deposit with the price; the seller's is locked from its bond when it
///   signs the offer a buyer fills, creates the trade, or accepts it. A trade is live (Funded, release
///   window running) only once both are in. Who gets each deposit when the trade ends:
///   | how the trade ends                                  | buyer's deposit  | seller's deposit |
///   |-----------------------------------------------------|------------------|------------------|
///   | release, refund, settlement, cancel                 | buyer            | seller           |
///   | timeout with an arbiter, paid to the seller         | seller (forfeit) | seller           |
///   | timeout with an arbiter, refunded to the buyer      | buyer            | buyer (forfeit)  |
///   | timeout without an arbiter (either way)             | buyer            | seller           |
///   | ruling, buyer awarded less than half                | seller (forfeit) | seller           |
///   | ruling, buyer awarded more than half                | buyer            | buyer (forfeit)  |
///   | ruling, even split; dispute never ruled             | buyer            | seller           |
///   | a party concedes                                    | to the winner: the conceder forfeits |
///   Deposits never go to the arbiter, the platform or the owner, and carry no platform fee. Each is
///   paid with its receiver's other payout from the trade (one transfer per party); it has no event of
///   its own: the table and the ending's event say who got it.
/// - Without an arbiter, the timeout outcome fixed at creation decides and no unilateral mark changes
///   it: with refund-on-timeout the seller bears the risk of a buyer who keeps the goods; with
///   release-on-timeout the buyer bears the risk of a seller who never delivers.
interface IP2PEscrow {
    // ---------------------------------------------------------------------------------------------
    // Types
    // ---------------------------------------------------------------------------------------------

    /// @notice Where a trade is in its life. The last five are terminal and never change again.
    enum State {
        None, // no such trade
        AwaitingFunding, // created by either party, buyer has not funded yet
        AwaitingDeposit, // buyer funded (price and deposit); the seller's deposit is not in yet
        Funded, // live: buyer may release, seller may refund, either may dispute or settle
        Disputed, // frozen; the arbiter rules, either party settles or concedes, or anyone ends it late
        Completed, // everything held has left the escrow and the seller was paid some of it
        Refunded, // everything held went back to the buyer
        Settled, // paid out as the parties agreed (settlement accepted)
        Resolved, // paid out by the arbiter's ruling, a concession, or the expired-dispute fallback
        Cancelled // never went live; every deposit and payment went back to its owner
    }

    /// @notice The immutable terms of a trade, resupplied by every call that acts on it.
    /// @param buyer Who funds the escrow and is refunded.
    /// @param seller Who is paid on release.
    /// @param token The ERC-20 token, or address(0) for ETH. Deposits are in the same asset.
    /// @param arbiter Who rules disputes, or address(0) for a trade without arbitration.
    /// @param amount The agreed price in the token's smallest unit.
    /// @param buyerDeposit What the buyer puts in beside the price, as security (0 for none).
    /// @param sellerDeposit What the seller's bond puts in, as security (0 for none).
    /// @param arbiterFeeBps The arbiter's fee on a ruling, in basis points of the price held.
    /// @param platformFeeBps The platform fee on what the seller receives; must equal the fee in force
    /// at creation (so a fee change can never surprise a creator).
    /// @param fundingWindow Seconds, from creation, for the buyer to fund and the seller to post its
    /// deposit.
    /// @param releaseWindow Seconds after the trade goes live (or after the seller marks delivery, on a
    /// trade with an arbiter) before the timeout outcome applies.
    /// @param arbitrationWindow Seconds the arbiter has to rule once a dispute opens.
    /// @param flags FLAG_TIMEOUT_RELEASES | FLAG_RECORD_REPUTATION | FLAG_CREATED_BY_SELLER.
    /// @param termsHash keccak256 of the off-chain terms document both parties agreed on.
    /// @param salt Makes otherwise identical trades distinct (the offer nonce for signed offers).
    struct Terms {
        address buyer;
        address seller;
        address token;
        address arbiter;
        uint128 amount;
        uint128 buyerDeposit;
        uint128 sellerDeposit;
        uint16 arbiterFeeBps;
        uint16 platformFeeBps;
        uint32 fundingWindow;
        uint32 releaseWindow;
        uint32 arbitrationWindow;
        uint8 flags;
        bytes32 termsHash;
        uint256 salt;
    }

    /// @notice The mutable state of a trade: exactly one storage slot (128+40+8+16+16 = 208 bits).
    /// @param held The part of the price the escrow holds for the trade (what really arrived, minus
    /// payouts). Once the trade has ended it is the platform fee not yet swept (`sweepFees`).
    /// Deposits are not in it: their amounts are in the terms, whether they are in follows from
    /// the state and the marks.
    /// @param deadline The one deadline that matters in the current state: end of the funding window
    /// (AwaitingFunding, AwaitingDeposit), timeout (Funded), end of arbitration (Disputed).
    /// @param state See State.
    /// @param marks Bits: 1 delivery marked, 2 seller paid, 4 settlement proposed by the buyer, 8 by the
    /// seller, 16 buyer rated, 32 seller rated, 64 the seller acted on the trade (consent), 128 the
    /// seller's deposit is in, 256 the trade records reputation (flag set and asset listed at creation,
    /// amount at least the minimum).
    /// @param settlementBps The proposed settlement's share for the buyer, in basis points.
    struct Escrow {
        uint128 held;
        uint40 deadline;
        State state;
        uint16 marks;
        uint16 settlementBps;
    }

    /// @notice A seller's signed offer (EIP-712). A buyer fills it, creating and funding the trade in one
    /// transaction, the seller's deposit locked from its bond; the seller pays no gas to list it.
    /// @param buyer The only buyer who may fill it, or address(0) for anyone.
    /// @param termsHash keccak256 of the offer's terms document (canonical JSON, RFC 8785).
    /// @param nonce Unique per seller; filling or revoking consumes it.
    /// @param expiry Unix time after which the offer cannot be filled.
    struct Offer {
        address seller;
        address buyer;
        address token;
        address arbiter;
        uint128 amount;
        uint128 buyerDeposit;
        uint128 sellerDeposit;
        uint16 arbiterFeeBps;
        uint16 platformFeeBps;
        uint32 releaseWindow;
        uint32 arbitrationWindow;
        uint8 flags;
        bytes32 termsHash;
        uint256 nonce;
        uint64 expiry;
    }

    /// @notice An EIP-2612 permit signature, so a token buyer funds in one transaction.
    struct Permit {
        uint256 deadline;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    /// @notice An asset whose trades build reputation, and the smallest trade that counts.
    /// @param listed Whether trades created from now on in this asset record reputation.
    /// @param minAmount The smallest price that records (in the asset's smallest unit).
    struct ReputationAsset {
        bool listed;
        uint128 minAmount;
    }

    // ---------------------------------------------------------------------------------------------
    // Errors
    // ---------------------------------------------------------------------------------------------

    /// @notice Buyer and seller are the same address.
    /// @param party The address given for both roles.
    error SameParty(address party);
    /// @notice The buyer or the seller is the zero address.
    error ZeroParty();
    /// @notice The arbiter is the buyer or the seller.
    /// @param arbiter The arbiter given.
    error ArbiterIsParty(address arbiter);
    /// @notice A trade amount of zero.
    error ZeroAmount();
    /// @notice A basis-point value above what is allowed.
    /// @param bps The value given.
    /// @param max The highest value allowed.
    error BpsTooHigh(uint256 bps, uint256 max);
    /// @notice An arbiter fee on a trade that has no arbiter.
    /// @param arbiterFeeBps The fee given.
    error FeeWithoutArbiter(uint16 arbiterFeeBps);
    /// @notice The terms name a platform fee other than the one in force.
    /// @param given The fee in the terms.
    /// @param current The fee in force now.
    error PlatformFeeMismatch(uint16 given, uint16 current);
    /// @notice A window of zero or longer than MAX_WINDOW.
    /// @param window The window given, in seconds.
    /// @param max The longest window allowed.
    error InvalidWindow(uint256 window, uint256 max);
    /// @notice Flags outside the defined bits, or a creator flag that does not match the caller.
    /// @param flags The flags given.
    error InvalidFlags(uint8 flags);
    /// @notice A trade with these terms already exists.
    /// @param id The trade id.
    error TradeExists(bytes32 id);
    /// @notice No trade with these terms exists.
    /// @param id The trade id the terms hash to.
    error UnknownTrade(bytes32 id);
    /// @notice The caller may not do this to this trade.
    /// @param caller The caller.
    /// @param id The trade id.
    error Unauthorized(address caller, bytes32 id);
    /// @notice The trade is not in a state that allows this.
    /// @param id The trade id.
    /// @param state The trade's current state.
    error WrongState(bytes32 id, State state);
    /// @notice The action is allowed only before the deadline, which has passed.
    /// @param deadline The deadline, unix time.
    error DeadlinePassed(uint256 deadline);
    /// @notice The action is allowed only from the deadline on, which has not come yet.
    /// @param deadline The deadline, unix time.
    error DeadlineNotReached(uint256 deadline);
    /// @notice A release or refund of more than the trade holds (or of nothing).
    /// @param requested The amount asked for.
    /// @param held What the trade holds.
    error InvalidPart(uint256 requested, uint256 held);
    /// @notice The ETH sent does not match what the call needs.
    /// @param sent msg.value.
    /// @param expected What had to be sent.
    error WrongValue(uint256 sent, uint256 expected);
    /// @notice Funding moved no tokens into the escrow beyond the buyer's deposit.
    /// @param token The token.
    error NothingArrived(address token);
    /// @notice More arrived than one trade can hold.
    /// @param amount What arrived.
    error AmountTooLarge(uint256 amount);
    /// @notice A dispute on a trade that has no arbiter.
    /// @param id The trade id.
    error NoArbiter(bytes32 id);
    /// @notice The seller already marked the trade delivered.
    /// @param id The trade id.
    error AlreadyMarked(bytes32 id);
    /// @notice The seller already accepted the trade (or created it, or signed its offer).
    /// @param id The trade id.
    error AlreadyAccepted(bytes32 id);
    /// @notice Accepting a settlement that is not the one proposed (or none is, or it is your own).
    /// @param proposedBps The proposal on record (0 if none).
    /// @param acceptedBps The split the caller tried to accept.
    error SettlementMismatch(uint16 proposedBps, uint16 acceptedBps);
    /// @notice The offer's expiry has passed.
    /// @param expiry The offer's expiry, unix time.
    error OfferExpired(uint64 expiry);
    /// @notice The signature is not the seller's signature of this offer on this chain and contract.
    /// @param seller The seller the offer names.
    error InvalidSignature(address seller);
    /// @notice The offer's nonce was already filled or revoked.
    /// @param seller The seller.
    /// @param nonce The nonce.
    error NonceUsed(address seller, uint256 nonce);
    /// @notice The offer is reserved for another buyer.
    /// @param buyer The buyer the offer names.
    error NotOfferBuyer(address buyer);
    /// @notice The seller's free bond does not cover the deposit the trade locks.
    /// @param seller The seller.
    /// @param token The asset (address(0) for ETH).
    /// @param free The seller's free bond in that asset.
    /// @param needed The deposit.
    error InsufficientBond(address seller, address token, uint256 free, uint256 needed);
    /// @notice Nothing to withdraw.
    /// @param account The account.
    /// @param token The token (address(0) for ETH).
    error NothingToWithdraw(address account, address token);
    /// @notice Credits, bonds and fees cannot be sent to the zero address or to the escrow itself
    /// (they would be lost).
    /// @param to The receiver given.
    error InvalidReceiver(address to);
    /// @notice An ETH withdrawal to the given address failed.
    /// @param to The receiver.
    error WithdrawFailed(address to);
    /// @notice A rating outside 1..5.
    /// @param score The score given.
    error InvalidScore(uint8 score);
    /// @notice The trade has not ended (or never went live), so it cannot be rated yet.
    /// @param id The trade id.
    /// @param state Its state.
    error NotEnded(bytes32 id, State state);
    /// @notice The trade records no reputation, so it cannot be rated: its flag was off, its asset was
    /// not a listed reputation asset (or the price was below the asset's minimum) when it was
    /// created, or the seller never acted on it (a trade pushed on a stranger counts for no one).
    /// @param id The trade id.
    error NotRecorded(bytes32 id);
    /// @notice The caller already rated this trade.
    /// @param id The trade id.
    /// @param rater The caller.
    error AlreadyRated(bytes32 id, address rater);
    /// @notice Evidence URI longer than MAX_EVIDENCE_URI bytes.
    /// @param length Its length.
    /// @param max The longest allowed.
    error UriTooLong(uint256 length, uint256 max);
    /// @notice `sweepFees` was given a trade in another asset than the one swept.
    /// @param id The trade id.
    error WrongAsset(bytes32 id);
    /// @notice The fee recipient cannot be the zero address.
    error ZeroFeeRecipient();

    // ---------------------------------------------------------------------------------------------
    // Events: together they rebuild every trade's terms, deposits, state and history from logs alone.
    // ---------------------------------------------------------------------------------------------

    /// @notice A trade was created. Carries every term, so clients never need to be told them again.
    /// `held` is the price that arrived if it was funded in the same transaction (else 0). The rest
    /// follows from the terms and the block, so the event does not pay to repeat it:
    /// - state: AwaitingFunding if `held` is 0; else AwaitingDeposit if the seller's deposit is non-zero
    ///   and FLAG_CREATED_BY_SELLER is unset (a buyer's createAndFund); else Funded;
    /// - deadline: block timestamp + fundingWindow (not live yet) or + releaseWindow (Funded);
    /// - the seller's deposit is in exactly when FLAG_CREATED_BY_SELLER is set and it is non-zero.
    event TradeCreated(bytes32 indexed id, address indexed buyer, address indexed seller, Terms terms, uint256 held);
    /// @notice The buyer funded a trade created earlier: `held` is the price that arrived; `state` is
    /// Funded, or AwaitingDeposit while the seller's deposit is not in (deadline unchanged).
    event TradeFunded(bytes32 indexed id, uint256 held, State state, uint256 deadline);
    /// @notice The seller accepted a trade a buyer created: its deposit (if any) is in. `state` is the
    /// state after (Funded if the buyer had funded), `deadline` the deadline that now applies.
    event SellerAccepted(bytes32 indexed id, State state, uint256 deadline);
    /// @notice The buyer released `toSeller + platformFee` of the price: the seller got `toSeller`, the
    /// platform `platformFee`. What is held after is what was held minus both; the trade ends
    /// (Completed, both deposits back) when that is 0.
    event Released(bytes32 indexed id, uint256 toSeller, uint256 platformFee);
    /// @notice The seller refunded `toBuyer` of the price to the buyer. The trade ends when nothing of
    /// the price is left held (Refunded, or Completed if some was released before; deposits back).
    event Refunded(bytes32 indexed id, uint256 toBuyer);
    /// @notice A trade that never went live was cancelled; whatever was in went back to its owner.
    event Cancelled(bytes32 indexed id, address by);
    /// @notice The seller marked the trade delivered/paid. On a trade with an arbiter the timeout now
    /// releases, at `deadline`; without an arbiter the mark changes nothing but the record.
    event DeliveryMarked(bytes32 indexed id, uint256 deadline);
    /// @notice A party proposed a settlement giving the buyer `buyerBps` of what is held.
    event SettlementProposed(bytes32 indexed id, address indexed by, uint16 buyerBps);
    /// @notice The counterparty accepted the settlement and it was paid out.
    event Settled(bytes32 indexed id, uint16 buyerBps, uint256 toBuyer, uint256 toSeller, uint256 platformFee);
    /// @notice A party opened a dispute; the arbiter may rule until `deadline`.
    event Disputed(bytes32 indexed id, address indexed by, uint256 deadline);
    /// @notice The arbiter ruled and the split was paid out.
    event Ruled(
        bytes32 indexed id,
        uint16 buyerBps,
        uint256 toBuyer,
        uint256 toSeller,
        uint256 arbiterFee,
        uint256 platformFee
    );
    /// @notice A party ended a dispute by conceding everything held to the other (the arbiter gets
    /// half its fee: it was engaged but did not have to rule).
    event Conceded(
        bytes32 indexed id,
        address indexed by,
        uint256 toBuyer,
        uint256 toSeller,
        uint256 arbiterFee,
        uint256 platformFee
    );
    /// @notice The arbiter missed the window; the fallback split the held amount evenly, without arbiter fee.
    event DisputeExpired(bytes32 indexed id, uint256 toBuyer, uint256 toSeller, uint256 platformFee);
    /// @notice The release window passed; the held amount went to the seller (`toSeller`) or back to the buyer.
    event TimedOut(bytes32 indexed id, bool toSeller, uint256 amount, uint256 platformFee);
    /// @notice Evidence attached by a party or the arbiter: the hash of its content and where it is.
    event EvidenceSubmitted(bytes32 indexed id, address indexed by, bytes32 contentHash, string uri);
    /// @notice A payout of trade `id` could not be delivered and was credited for `withdraw`.
    event PaymentCredited(bytes32 indexed id, address indexed receiver, address indexed token, uint256 amount);
    /// @notice Credits were withdrawn.
    event Withdrawn(address indexed account, address indexed token, address to, uint256 amount);
    /// @notice Platform fees were paid to the fee recipient: those of partial releases and those kept in
    /// the slots of `trades`, whose unswept fee is now 0.
    event FeesSwept(address indexed token, address indexed recipient, uint256 amount, bytes32[] trades);
    /// @notice A seller's bond grew by `amount` (what arrived); `free` is its free bond after.
    event BondDeposited(address indexed seller, address indexed token, uint256 amount, uint256 free);
    /// @notice A seller withdrew `amount` of its free bond to `to`; `free` is what is left.
    event BondWithdrawn(address indexed seller, address indexed token, address to, uint256 amount, uint256 free);
    /// @notice A signed offer was filled, creating trade `id`.
    event OfferFilled(address indexed seller, uint256 nonce, bytes32 indexed id);
    /// @notice A seller revoked an offer nonce.
    event OfferRevoked(address indexed seller, uint256 nonce);
    /// @notice A signed offer and its terms document were put on the offer board. Nothing is checked
    /// or stored: readers check the signature, the chain, this escrow, and keccak256(terms) ==
    /// offer.termsHash themselves.
    event OfferPublished(address indexed seller, uint256 indexed nonce, Offer offer, bytes signature, bytes terms);
    /// @notice The owner listed, re-priced or delisted a reputation asset (address(0) is ETH).
    event ReputationAssetSet(address indexed token, bool listed, uint128 minAmount);
    /// @notice The platform fee for new trades changed.
    event PlatformFeeChanged(uint16 previousBps, uint16 newBps);
    /// @notice The platform fee recipient changed.
    event FeeRecipientChanged(address previousRecipient, address newRecipient);
}
