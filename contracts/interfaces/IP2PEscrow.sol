// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IP2PEscrow
/// @notice Types, errors and events of the p2pescrow escrow contract.
/// @dev Note: a trade is identified by `keccak256(abi.encode(terms))`. The terms never change after
/// creation and are not stored: every call that acts on a trade passes them again in calldata, and the
/// contract keeps only one packed storage slot of mutable state per trade (`Escrow`). Clients rebuild
/// the terms from the `TradeCreated` event, which carries all of them.
interface IP2PEscrow {
    // ---------------------------------------------------------------------------------------------
    // Types
    // ---------------------------------------------------------------------------------------------

    /// @notice Where a trade is in its life. The last five are terminal and never change again.
    enum State {
        None, // no such trade
        AwaitingFunding, // created by either party, buyer has not funded yet
        Funded, // money held; buyer may release, seller may refund, either may dispute or settle
        Disputed, // frozen; the arbiter rules, or either party settles, or anyone ends it after the window
        Completed, // everything held has left the escrow and the seller was paid some of it
        Refunded, // everything held went back to the buyer
        Settled, // paid out as the parties agreed (settlement accepted)
        Resolved, // paid out by the arbiter's ruling or by the expired-dispute fallback
        Cancelled // never funded, cancelled; nothing moved
    }

    /// @notice The immutable terms of a trade, resupplied by every call that acts on it.
    /// @param buyer Who funds the escrow and is refunded.
    /// @param seller Who is paid on release.
    /// @param token The ERC-20 token, or address(0) for ETH.
    /// @param arbiter Who rules disputes, or address(0) for a trade without arbitration.
    /// @param amount The agreed price in the token's smallest unit.
    /// @param arbiterFeeBps The arbiter's fee on a ruling, in basis points of what is held.
    /// @param platformFeeBps The platform fee on what the seller receives; must equal the fee in force
    /// at creation (so a fee change can never surprise a creator).
    /// @param fundingWindow Seconds the buyer has to fund an unfunded trade.
    /// @param releaseWindow Seconds after funding (or after the seller marks delivery) before the
    /// timeout outcome applies.
    /// @param arbitrationWindow Seconds the arbiter has to rule once a dispute opens.
    /// @param flags FLAG_TIMEOUT_RELEASES | FLAG_RECORD_REPUTATION | FLAG_CREATED_BY_SELLER.
    /// @param termsHash Hash of the off-chain terms both parties agreed on.
    /// @param salt Makes otherwise identical trades distinct (the offer nonce for signed offers).
    struct Terms {
        address buyer;
        address seller;
        address token;
        address arbiter;
        uint128 amount;
        uint16 arbiterFeeBps;
        uint16 platformFeeBps;
        uint32 fundingWindow;
        uint32 releaseWindow;
        uint32 arbitrationWindow;
        uint8 flags;
        bytes32 termsHash;
        uint256 salt;
    }

    /// @notice The mutable state of a trade: exactly one storage slot (128+40+8+8+16 = 200 bits).
    /// @param held What the escrow holds for the trade now (what really arrived, minus payouts).
    /// uint128 is safe: funding above 2^128-1 reverts with AmountTooLarge.
    /// @param deadline The one deadline that matters in the current state: funding deadline
    /// (AwaitingFunding), timeout (Funded), end of arbitration (Disputed). uint40 lasts until year 36812.
    /// @param state See State.
    /// @param marks MARK_* bits: delivery marked, seller paid, who proposed a settlement, who rated.
    /// @param settlementBps The proposed settlement's share for the buyer, in basis points.
    struct Escrow {
        uint128 held;
        uint40 deadline;
        State state;
        uint8 marks;
        uint16 settlementBps;
    }

    /// @notice A seller's signed offer (EIP-712). A buyer fills it, creating and funding in one
    /// transaction; the seller pays no gas to list it.
    /// @param buyer The only buyer who may fill it, or address(0) for anyone.
    /// @param nonce Unique per seller; filling or revoking consumes it.
    /// @param expiry Unix time after which the offer cannot be filled.
    struct Offer {
        address seller;
        address buyer;
        address token;
        address arbiter;
        uint128 amount;
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
    /// @notice Funding moved no tokens into the escrow.
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
    /// @notice Nothing to withdraw.
    /// @param account The account.
    /// @param token The token (address(0) for ETH).
    error NothingToWithdraw(address account, address token);
    /// @notice Credits cannot be withdrawn to the zero address or to the escrow itself (they would be
    /// lost).
    /// @param to The receiver given.
    error InvalidReceiver(address to);
    /// @notice An ETH withdrawal to the given address failed.
    /// @param to The receiver.
    error WithdrawFailed(address to);
    /// @notice A rating outside 1..5.
    /// @param score The score given.
    error InvalidScore(uint8 score);
    /// @notice The trade cannot be rated by this caller: not finished with the seller paid, reputation
    /// recording off, or already rated by this party.
    /// @param id The trade id.
    error NotRateable(bytes32 id);
    /// @notice The fee recipient cannot be the zero address.
    error ZeroFeeRecipient();
    /// @notice The caller did not provide the gas the reputation call needs (see `_recordOutcome`).
    /// @param left The gas left when the check ran.
    error InsufficientGas(uint256 left);

    // ---------------------------------------------------------------------------------------------
    // Events
    // ---------------------------------------------------------------------------------------------

    /// @notice A trade was created. Carries every term, so clients never need to be told them again.
    /// `held` is what arrived if it was funded in the same transaction (else 0); `deadline` is the
    /// funding deadline of an unfunded trade, or the release deadline of a funded one.
    event TradeCreated(
        bytes32 indexed id, address indexed buyer, address indexed seller, Terms terms, uint256 held, uint256 deadline
    );
    /// @notice The buyer funded a trade created earlier; `held` is what really arrived.
    event TradeFunded(bytes32 indexed id, uint256 held, uint256 deadline);
    /// @notice The buyer released `gross` to the seller (seller got `toSeller`, platform `platformFee`).
    event Released(bytes32 indexed id, uint256 toSeller, uint256 platformFee, uint256 heldAfter);
    /// @notice The seller refunded `toBuyer` to the buyer.
    event Refunded(bytes32 indexed id, uint256 toBuyer, uint256 heldAfter);
    /// @notice An unfunded trade was cancelled.
    event Cancelled(bytes32 indexed id, address by);
    /// @notice The seller marked the trade delivered/paid; the timeout now releases, at `deadline`.
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
    /// @notice The arbiter missed the window; the fallback split the held amount evenly, without arbiter fee.
    event DisputeExpired(bytes32 indexed id, uint256 toBuyer, uint256 toSeller, uint256 platformFee);
    /// @notice The release window passed; the held amount went to the seller (`toSeller`) or back to the buyer.
    event TimedOut(bytes32 indexed id, bool toSeller, uint256 amount, uint256 platformFee);
    /// @notice Evidence attached by a party or the arbiter.
    event EvidenceSubmitted(bytes32 indexed id, address indexed by, string uri, bytes32 contentHash);
    /// @notice A payout could not be delivered and was credited for `withdraw`.
    event PaymentCredited(address indexed receiver, address indexed token, uint256 amount);
    /// @notice Credits were withdrawn.
    event Withdrawn(address indexed account, address indexed token, address to, uint256 amount);
    /// @notice Platform fees were paid to the fee recipient.
    event FeesWithdrawn(address indexed token, address indexed recipient, uint256 amount);
    /// @notice A signed offer was filled, creating trade `id`.
    event OfferFilled(address indexed seller, uint256 nonce, bytes32 indexed id);
    /// @notice A seller revoked an offer nonce.
    event OfferRevoked(address indexed seller, uint256 nonce);
    /// @notice The platform fee for new trades changed.
    event PlatformFeeChanged(uint16 previousBps, uint16 newBps);
    /// @notice The platform fee recipient changed.
    event FeeRecipientChanged(address previousRecipient, address newRecipient);
}
