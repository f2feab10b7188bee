// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {IP2PEscrow} from "./interfaces/IP2PEscrow.sol";
import {IReputation} from "./interfaces/IReputation.sol";
import {Reputation} from "./Reputation.sol";

/// @title P2PEscrow (version 2)
/// @notice Escrow for trades between strangers, in ETH or any ERC-20: the buyer funds, the seller
/// delivers, the buyer releases; disputes go to an arbiter both accepted; timeouts make sure money is
/// never stuck; deposits from both sides make a no-show pay; reputation is priced by the value behind it.
/// @dev Note:
/// - Storage: one slot per trade (`Escrow`), keyed by `keccak256(abi.encode(terms))`. Terms are
///   resupplied in calldata by every call and checked by hashing, which is what keeps a trade's
///   life near the cost of its transfers.
/// - Every non-terminal state has a way out that needs no one's cooperation: a trade that never went
///   live can be cancelled by anyone after its funding window (and by the buyer at any time once it
///   funded and waits for the seller's deposit); a live one times out to the outcome fixed at
///   creation; a dispute the arbiter does not rule in time can be ended by anyone with an even split.
///   Pausing stops new money only (create, fund, accept, fill, bond top-up); every way out stays open.
/// - Payouts never block a transition: a receiver that rejects ETH or tokens is credited instead, and
///   withdraws later with `withdraw` (to any address, so a blacklisted one can still get its money).
/// - Money only ever goes to a trade's buyer, seller and arbiter, and platform fees to the fee
///   recipient. Deposits go to the buyer or the seller only (table in IP2PEscrow). The owner sets the
///   fee for new trades (capped), the fee recipient and the reputation assets, and can pause; it has
///   no path to any held funds.
/// - Invariant, per asset: balance >= sum(held) + deposits of trades not ended + sum(bonds) +
///   sum(credits) + feesAccrued (`>=` because ETH can be forced in).
/// - Rounding: splits round down with the remainder to the seller's side, so shares always sum to what
///   is held; the platform fee rounds up, so paying in parts never pays less fee than the whole.
/// - Reentrancy: every function writes its state before any external call. The payout paths carry no
///   guard (ETH is sent with a capped gas budget, and a re-entered call sees the trade already
///   closed); the guard protects what needs it: the balance measurement of token pulls, and the
///   uncapped sends of `withdraw`, `withdrawBond` and `sweepFees`.
contract P2PEscrow is IP2PEscrow, EIP712, Ownable2Step, ReentrancyGuard, Pausable {
    using SafeERC20 for IERC20;

    // ---------------------------------------------------------------------------------------------
    // Constants
    // ---------------------------------------------------------------------------------------------

    /// @notice The contract version: clients refuse any other.
    uint8 public constant VERSION = 2;
    /// @notice Basis points in 100%.
    uint16 public constant BPS = 10_000;
    /// @notice The highest platform fee the owner can ever set: 5%.
    uint16 public constant MAX_PLATFORM_FEE_BPS = 500;
    /// @notice The highest arbiter fee a trade can name: 20%.
    uint16 public constant MAX_ARBITER_FEE_BPS = 2_000;
    /// @notice The longest any window can be: money is never locked longer than a year at a time.
    uint32 public constant MAX_WINDOW = 365 days;
    /// @notice The longest evidence URI, in bytes.
    uint256 public constant MAX_EVIDENCE_URI = 512;

    /// @notice Terms flag: on timeout, release to the seller (marketplace); if unset, refund the buyer
    /// (crypto-for-fiat) unless, on a trade with an arbiter, the seller marked it delivered/paid.
    uint8 public constant FLAG_TIMEOUT_RELEASES = 1;
    /// @notice Terms flag: report the outcome to the reputation contract and allow ratings (only in a
    /// listed reputation asset, at or above its minimum).
    uint8 public constant FLAG_RECORD_REPUTATION = 2;
    /// @notice Terms flag: the seller created the trade (or signed its offer).
    uint8 public constant FLAG_CREATED_BY_SELLER = 4;
    uint8 private constant FLAGS_ALL = 7;

    uint16 private constant MARK_DELIVERED = 1;
    uint16 private constant MARK_SELLER_PAID = 2;
    uint16 private constant MARK_PROPOSED_BY_BUYER = 4;
    uint16 private constant MARK_PROPOSED_BY_SELLER = 8;
    uint16 private constant MARK_BUYER_RATED = 16;
    uint16 private constant MARK_SELLER_RATED = 32;
    /// @dev The seller entered the trade knowingly: created it, signed its offer, accepted it, marked it
    /// delivered, proposed or accepted a settlement, or disputed. The buyer always has: only the buyer
    /// can fund. Giving the money back (a refund, a concession, a settlement of everything to the buyer)
    /// is not consent: a stranger who pushes a trade on someone must not make it count through the
    /// victim's honest refusal.
    uint16 private constant MARK_SELLER_ACTED = 64;
    uint16 private constant MARK_SELLER_DEPOSITED = 128;
    uint16 private constant MARK_RECORDS = 256;

    uint8 private constant FORFEIT_NONE = 0;
    uint8 private constant FORFEIT_BUYER = 1;
    uint8 private constant FORFEIT_SELLER = 2;

    /// @dev Gas given to an ETH receiver: enough for any wallet contract's receive hook, too little to
    /// grief the caller. A receiver that needs more is credited and withdraws with all the gas it wants.
    uint256 private constant ETH_PAYOUT_GAS = 50_000;

    /// @notice EIP-712 type of a signed offer.
    bytes32 public constant OFFER_TYPEHASH = keccak256(
        "Offer(address seller,address buyer,address token,address arbiter,uint128 amount,uint128 buyerDeposit,"
        "uint128 sellerDeposit,uint16 arbiterFeeBps,uint16 platformFeeBps,uint32 releaseWindow,"
        "uint32 arbitrationWindow,uint8 flags,bytes32 termsHash,uint256 nonce,uint64 expiry)"
    );

    /// @notice Where outcomes and ratings are recorded: created by this escrow, its only writer.
    IReputation public immutable reputation;

    // ---------------------------------------------------------------------------------------------
    // Storage
    // ---------------------------------------------------------------------------------------------

    /// @notice The platform fee, in basis points, that new trades must name. Shares a slot with
    /// Pausable's flag and the recipient: creating a trade reads both with one cold SLOAD.
    uint16 public platformFeeBps;
    /// @notice Who receives platform fees (through `sweepFees`).
    address public feeRecipient;
    /// @dev ETH's reputation listing lives in the same slot as the fee, which every creation reads
    /// anyway: an ETH trade that asks to record pays no extra storage read for the check.
    bool private _ethListed;
    uint64 private _ethMinAmount;

    mapping(bytes32 id => Escrow) private _escrows;
    /// @notice Payouts that could not be delivered, per receiver and token, for `withdraw`.
    mapping(address account => mapping(address token => uint256)) public credits;
    /// @notice Platform fees of partial releases, per token, not yet swept (the fee of a trade's last
    /// payout stays in its slot until swept).
    mapping(address token => uint256) public feesAccrued;
    /// @notice Each seller's free bond per asset: what trades can lock as the seller's deposit.
    mapping(address seller => mapping(address token => uint256)) public bonds;
    /// @notice The assets whose trades record reputation, with their minimum price.
    mapping(address token => ReputationAsset) private _tokenListings;
    mapping(address seller => mapping(uint256 word => uint256)) private _nonceBitmap;

    /// @param owner_ Manages the fee, the reputation assets and pause; has no access to funds.
    /// @param feeRecipient_ Receives platform fees.
    /// @param platformFeeBps_ The initial platform fee, at most MAX_PLATFORM_FEE_BPS.
    constructor(address owner_, address feeRecipient_, uint16 platformFeeBps_)
        EIP712("P2PEscrow", "2")
        Ownable(owner_)
    {
        if (feeRecipient_ == address(0)) revert ZeroFeeRecipient();
        if (platformFeeBps_ > MAX_PLATFORM_FEE_BPS) revert BpsTooHigh(platformFeeBps_, MAX_PLATFORM_FEE_BPS);
        feeRecipient = feeRecipient_;
        platformFeeBps = platformFeeBps_;
        // Created here, so the reputation contract always holds code and has exactly one writer.
        reputation = new Reputation();
    }

    // ---------------------------------------------------------------------------------------------
    // Creating and funding
    // ---------------------------------------------------------------------------------------------

    /// @notice Creates a trade that is not funded yet. Either party may create it; the buyer funds it
    /// later. A seller who creates it locks its deposit from its bond now.
    /// @param t The terms; `flags` must carry FLAG_CREATED_BY_SELLER exactly when the seller calls.
    /// @return id The trade id.
    function create(Terms memory t) external whenNotPaused returns (bytes32 id) {
        _checkTerms(t);
        bool bySeller = msg.sender == t.seller;
        if (!bySeller && msg.sender != t.buyer) revert Unauthorized(msg.sender, _calldataId());
        if (bySeller != (t.flags & FLAG_CREATED_BY_SELLER != 0)) revert InvalidFlags(t.flags);
        _checkWindow(t.fundingWindow);
        id = _calldataId();
        if (_escrows[id].state != State.None) revert TradeExists(id);
        uint16 marks = _recordsMark(t);
        if (bySeller) marks |= _lockSellerDeposit(t);
        uint40 deadline = uint40(block.timestamp + t.fundingWindow);
        _save(id, Escrow({held: 0, deadline: deadline, state: State.AwaitingFunding, marks: marks, settlementBps: 0}));
        emit TradeCreated(id, t.buyer, t.seller, t, 0);
    }

    /// @notice Creates and funds a trade in one transaction (price and buyer's deposit). Only the buyer.
    /// ETH by value; ERC-20 by transferFrom (approve first, or use `createAndFundWithPermit`). With a
    /// seller's deposit the trade waits for the seller to accept until the funding window ends.
    /// @param t The terms; FLAG_CREATED_BY_SELLER must be unset.
    /// @return id The trade id.
    function createAndFund(Terms memory t) external payable whenNotPaused returns (bytes32 id) {
        if (msg.sender != t.buyer) revert Unauthorized(msg.sender, _calldataId());
        if (t.flags & FLAG_CREATED_BY_SELLER != 0) revert InvalidFlags(t.flags);
        return _openFunded(_calldataId(), t, _noPermit(), false);
    }

    /// @notice `createAndFund` for an EIP-2612 token: the permit replaces the approve transaction.
    /// @param t The terms (an ERC-20 trade).
    /// @param permit The buyer's permit for exactly `t.amount + t.buyerDeposit` to this contract.
    /// @return id The trade id.
    function createAndFundWithPermit(Terms memory t, Permit calldata permit)
        external
        whenNotPaused
        returns (bytes32 id)
    {
        if (msg.sender != t.buyer) revert Unauthorized(msg.sender, _calldataId());
        if (t.flags & FLAG_CREATED_BY_SELLER != 0) revert InvalidFlags(t.flags);
        return _openFunded(_calldataId(), t, permit, false);
    }

    /// @notice Funds a trade created earlier (price and buyer's deposit). Only the buyer, before the
    /// funding deadline. The trade goes live if the seller's deposit is in (or zero).
    /// @param t The trade's terms.
    function fund(Terms memory t) external payable whenNotPaused {
        (bytes32 id, Escrow memory e) = _load(t);
        if (msg.sender != t.buyer) _unauthorized(id);
        if (e.state != State.AwaitingFunding) _wrongState(id, e.state);
        if (block.timestamp >= e.deadline) _deadlinePassed(e.deadline);
        _checkValue(t);
        if (t.sellerDeposit == 0 || e.marks & MARK_SELLER_DEPOSITED != 0) {
            e.state = State.Funded;
            e.deadline = uint40(block.timestamp + t.releaseWindow);
        } else {
            e.state = State.AwaitingDeposit;
        }
        e.held = t.amount;
        _save(id, e);
        uint256 held = t.amount;
        if (t.token != address(0)) held = _pullTokens(id, t, _noPermit());
        emit TradeFunded(id, held, e.state, e.deadline);
    }

    /// @notice The seller accepts a trade a buyer created: its deposit is locked from its bond, and a
    /// funded trade goes live. Before the funding deadline. On a live trade it only records that the
    /// seller entered it knowingly (which reputation needs).
    /// @param t The trade's terms.
    function accept(Terms memory t) external whenNotPaused {
        (bytes32 id, Escrow memory e) = _load(t);
        if (msg.sender != t.seller) _unauthorized(id);
        if (e.marks & MARK_SELLER_ACTED != 0) revert AlreadyAccepted(id);
        if (e.state == State.Funded) {
            e.marks |= MARK_SELLER_ACTED;
        } else {
            if (e.state != State.AwaitingFunding && e.state != State.AwaitingDeposit) _wrongState(id, e.state);
            if (block.timestamp >= e.deadline) _deadlinePassed(e.deadline);
            e.marks |= _lockSellerDeposit(t);
            if (e.state == State.AwaitingDeposit) {
                e.state = State.Funded;
                e.deadline = uint40(block.timestamp + t.releaseWindow);
            }
        }
        _save(id, e);
        emit SellerAccepted(id, e.state, e.deadline);
    }

    /// @notice Fills a seller's signed offer: creates the trade with the caller as buyer and funds it;
    /// the seller's deposit is locked from its bond (the signature is its acceptance).
    /// @param offer The offer as signed.
    /// @param signature The seller's EIP-712 signature (or an ERC-1271 contract signature).
    /// @return id The trade id.
    function fillOffer(Offer memory offer, bytes calldata signature)
        external
        payable
        whenNotPaused
        returns (bytes32 id)
    {
        return _fill(offer, signature, _noPermit());
    }

    /// @notice `fillOffer` for an EIP-2612 token, with the buyer's permit instead of an approval.
    /// @param offer The offer as signed.
    /// @param signature The seller's signature.
    /// @param permit The buyer's permit for exactly `offer.amount + offer.buyerDeposit` to this contract.
    /// @return id The trade id.
    function fillOfferWithPermit(Offer memory offer, bytes calldata signature, Permit calldata permit)
        external
        whenNotPaused
        returns (bytes32 id)
    {
        return _fill(offer, signature, permit);
    }

    /// @notice Revokes an offer nonce so that no offer signed with it can be filled.
    /// @param nonce The nonce.
    function revokeOffer(uint256 nonce) external {
        _useNonce(msg.sender, nonce);
        emit OfferRevoked(msg.sender, nonce);
    }

    /// @notice Puts a signed offer and its terms document on the offer board: one event, no storage, no
    /// check (anyone may relay a seller's offer; readers verify it, see `OfferPublished`).
    /// @param offer The offer as signed.
    /// @param signature The seller's signature.
    /// @param terms The terms document: canonical JSON (RFC 8785) whose keccak256 is `offer.termsHash`.
    function publishOffer(Offer memory offer, bytes calldata signature, bytes calldata terms) external {
        emit OfferPublished(offer.seller, offer.nonce, offer, signature, terms);
    }

    /// @notice Cancels a trade that never went live; whatever is in goes back to its owner. Unfunded:
    /// its creator at any time. Funded but waiting for the seller's deposit: the buyer at any time.
    /// Either: anyone once the funding deadline has passed.
    /// @param t The trade's terms.
    function cancel(Terms memory t) external {
        (bytes32 id, Escrow memory e) = _load(t);
        address mayCancelEarly;
        if (e.state == State.AwaitingFunding) {
            mayCancelEarly = t.flags & FLAG_CREATED_BY_SELLER != 0 ? t.seller : t.buyer;
        } else if (e.state == State.AwaitingDeposit) {
            mayCancelEarly = t.buyer;
        } else {
            _wrongState(id, e.state);
        }
        if (msg.sender != mayCancelEarly && block.timestamp < e.deadline) _deadlineNotReached(e.deadline);
        bool buyerIn = e.state == State.AwaitingDeposit;
        bool sellerIn = e.marks & MARK_SELLER_DEPOSITED != 0;
        uint256 toBuyer = e.held;
        e.held = 0;
        e.state = State.Cancelled;
        _save(id, e);
        emit Cancelled(id, msg.sender);
        _pay(id, t.token, t.buyer, buyerIn ? toBuyer + t.buyerDeposit : 0);
        _pay(id, t.token, t.seller, sellerIn ? t.sellerDeposit : 0);
    }

    // ---------------------------------------------------------------------------------------------
    // Paying out
    // ---------------------------------------------------------------------------------------------

    /// @notice The buyer releases `amount` to the seller (all of it or a part, for partial delivery).
    /// The platform fee is taken from what the seller receives. The trade ends when nothing is left,
    /// and both deposits go back.
    /// @param t The trade's terms.
    /// @param amount The part to release, at most what is held.
    function release(Terms memory t, uint256 amount) external {
        (bytes32 id, Escrow memory e) = _load(t);
        if (msg.sender != t.buyer) _unauthorized(id);
        if (e.state != State.Funded) _wrongState(id, e.state);
        if (amount == 0 || amount > e.held) revert InvalidPart(amount, e.held);
        uint256 fee = _bpsUp(amount, t.platformFeeBps);
        uint256 heldAfter = e.held - amount;
        e.marks |= MARK_SELLER_PAID;
        if (heldAfter == 0) {
            e.state = State.Completed;
            e.held = uint128(fee); // kept in the slot until swept
        } else {
            e.held = uint128(heldAfter);
            if (fee != 0) feesAccrued[t.token] += fee;
        }
        _save(id, e);
        emit Released(id, amount - fee, fee);
        if (heldAfter == 0) {
            _recordOutcome(t, id, e.marks, IReputation.Outcome.Completed);
            _payOut(t, id, 0, amount - fee, FORFEIT_NONE);
        } else {
            _pay(id, t.token, t.seller, amount - fee);
        }
    }

    /// @notice The seller refunds `amount` to the buyer (all of it or a part). The trade ends when
    /// nothing is left, and both deposits go back.
    /// @param t The trade's terms.
    /// @param amount The part to refund, at most what is held.
    function refund(Terms memory t, uint256 amount) external {
        (bytes32 id, Escrow memory e) = _load(t);
        if (msg.sender != t.seller) _unauthorized(id);
        if (e.state != State.Funded) _wrongState(id, e.state);
        if (amount == 0 || amount > e.held) revert InvalidPart(amount, e.held);
        e.held -= uint128(amount);
        bool sellerPaid = e.marks & MARK_SELLER_PAID != 0;
        if (e.held == 0) e.state = sellerPaid ? State.Completed : State.Refunded;
        _save(id, e);
        emit Refunded(id, amount);
        if (e.held == 0) {
            _recordOutcome(
                t, id, e.marks, sellerPaid ? IReputation.Outcome.Completed : IReputation.Outcome.Refunded
            );
            _payOut(t, id, amount, 0, FORFEIT_NONE);
        } else {
            _pay(id, t.token, t.buyer, amount);
        }
    }

    /// @notice Once the deadline has passed with no release or dispute, anyone may apply the timeout
    /// fixed at creation: release to the seller if the terms say so (or, on a trade with an arbiter,
    /// the seller marked delivery), else refund the buyer. With an arbiter, the party the timeout rules
    /// against (who failed to act) forfeits its deposit to the other; without one, both go back.
    /// @param t The trade's terms.
    function timeout(Terms memory t) external {
        (bytes32 id, Escrow memory e) = _load(t);
        if (e.state != State.Funded) _wrongState(id, e.state);
        if (block.timestamp < e.deadline) _deadlineNotReached(e.deadline);
        uint256 amount = e.held;
        bool hasArbiter = t.arbiter != address(0);
        bool toSeller = t.flags & FLAG_TIMEOUT_RELEASES != 0 || (hasArbiter && e.marks & MARK_DELIVERED != 0);
        uint256 fee;
        if (toSeller) {
            fee = _bpsUp(amount, t.platformFeeBps);
            e.marks |= MARK_SELLER_PAID;
        }
        e.held = uint128(fee);
        e.state = e.marks & MARK_SELLER_PAID != 0 ? State.Completed : State.Refunded;
        _save(id, e);
        emit TimedOut(id, toSeller, amount, fee);
        _recordOutcome(
            t, id, e.marks, e.state == State.Completed ? IReputation.Outcome.Completed : IReputation.Outcome.Refunded
        );
        uint8 forfeit = !hasArbiter ? FORFEIT_NONE : (toSeller ? FORFEIT_BUYER : FORFEIT_SELLER);
        if (toSeller) _payOut(t, id, 0, amount - fee, forfeit);
        else _payOut(t, id, amount, 0, forfeit);
    }

    /// @notice The seller marks the trade delivered (goods shipped, service done, fiat paid: whatever the
    /// off-chain terms say). On a trade with an arbiter the timeout then releases to the seller, and
    /// the buyer gets a fresh release window to inspect and release or dispute. Without an arbiter the
    /// mark changes neither the outcome nor the deadline: no unilateral mark can move the money there.
    /// @param t The trade's terms.
    function markDelivered(Terms memory t) external {
        (bytes32 id, Escrow memory e) = _load(t);
        if (msg.sender != t.seller) _unauthorized(id);
        if (e.state != State.Funded) _wrongState(id, e.state);
        if (e.marks & MARK_DELIVERED != 0) revert AlreadyMarked(id);
        if (block.timestamp >= e.deadline) _deadlinePassed(e.deadline);
        e.marks |= MARK_DELIVERED | MARK_SELLER_ACTED;
        if (t.arbiter != address(0)) e.deadline = uint40(block.timestamp + t.releaseWindow);
        _save(id, e);
        emit DeliveryMarked(id, e.deadline);
    }

    // ---------------------------------------------------------------------------------------------
    // Settling and disputing
    // ---------------------------------------------------------------------------------------------

    /// @notice Proposes a split of what is held: `buyerBps` to the buyer, the rest to the seller (less
    /// the platform fee). Replaces any earlier proposal. Works while funded or disputed.
    /// @param t The trade's terms.
    /// @param buyerBps The buyer's share in basis points.
    function proposeSettlement(Terms memory t, uint16 buyerBps) external {
        (bytes32 id, Escrow memory e) = _load(t);
        if (e.state != State.Funded && e.state != State.Disputed) _wrongState(id, e.state);
        if (buyerBps > BPS) revert BpsTooHigh(buyerBps, BPS);
        // A seller's proposal is consent unless it only gives everything back (see MARK_SELLER_ACTED).
        uint16 bySeller = buyerBps < BPS ? MARK_PROPOSED_BY_SELLER | MARK_SELLER_ACTED : MARK_PROPOSED_BY_SELLER;
        uint16 proposer = _partyMark(t, id, MARK_PROPOSED_BY_BUYER, bySeller);
        e.marks = (e.marks & ~(MARK_PROPOSED_BY_BUYER | MARK_PROPOSED_BY_SELLER)) | proposer;
        e.settlementBps = buyerBps;
        _save(id, e);
        emit SettlementProposed(id, msg.sender, buyerBps);
    }

    /// @notice Accepts the counterparty's settlement proposal and pays it out; both deposits go back.
    /// `buyerBps` must repeat the proposal, so a proposal changed at the last moment cannot be
    /// accepted by surprise.
    /// @param t The trade's terms.
    /// @param buyerBps The proposal being accepted.
    function acceptSettlement(Terms memory t, uint16 buyerBps) external {
        (bytes32 id, Escrow memory e) = _load(t);
        if (e.state != State.Funded && e.state != State.Disputed) _wrongState(id, e.state);
        uint16 counterpartyProposal = _partyMark(t, id, MARK_PROPOSED_BY_SELLER, MARK_PROPOSED_BY_BUYER);
        if (e.marks & counterpartyProposal == 0 || e.settlementBps != buyerBps) {
            revert SettlementMismatch(e.marks & counterpartyProposal == 0 ? 0 : e.settlementBps, buyerBps);
        }
        if (msg.sender == t.seller && buyerBps < BPS) e.marks |= MARK_SELLER_ACTED;
        (uint256 toBuyer, uint256 toSeller,, uint256 fee) = computeSplit(e.held, buyerBps, 0, t.platformFeeBps);
        _close(e, id, State.Settled, toSeller + fee, fee);
        emit Settled(id, buyerBps, toBuyer, toSeller, fee);
        _recordOutcome(t, id, e.marks, IReputation.Outcome.Settled);
        _payOut(t, id, toBuyer, toSeller, FORFEIT_NONE);
    }

    /// @notice Opens a dispute. Either party, while live and before the deadline, on a trade with an
    /// arbiter. Freezes the trade until the arbiter rules, a party settles or concedes, or the
    /// arbitration window ends.
    /// @param t The trade's terms.
    function dispute(Terms memory t) external {
        (bytes32 id, Escrow memory e) = _load(t);
        if (msg.sender != t.buyer && msg.sender != t.seller) _unauthorized(id);
        if (e.state != State.Funded) _wrongState(id, e.state);
        if (t.arbiter == address(0)) revert NoArbiter(id);
        if (block.timestamp >= e.deadline) _deadlinePassed(e.deadline);
        if (msg.sender == t.seller) e.marks |= MARK_SELLER_ACTED;
        e.state = State.Disputed;
        e.deadline = uint40(block.timestamp + t.arbitrationWindow);
        _save(id, e);
        emit Disputed(id, msg.sender, e.deadline);
    }

    /// @notice The arbiter rules: the arbiter's fee comes off the top, `buyerBps` of the rest goes to the
    /// buyer, the remainder to the seller less the platform fee. The party awarded less than half
    /// forfeits its deposit to the other; an even split returns both. Before the arbitration deadline.
    /// @param t The trade's terms.
    /// @param buyerBps The buyer's share in basis points.
    function rule(Terms memory t, uint16 buyerBps) external {
        (bytes32 id, Escrow memory e) = _load(t);
        if (msg.sender != t.arbiter) _unauthorized(id);
        if (e.state != State.Disputed) _wrongState(id, e.state);
        if (block.timestamp >= e.deadline) _deadlinePassed(e.deadline);
        (uint256 toBuyer, uint256 toSeller, uint256 arbiterFee, uint256 fee) =
            computeSplit(e.held, buyerBps, t.arbiterFeeBps, t.platformFeeBps);
        _close(e, id, State.Resolved, toSeller + fee, fee);
        emit Ruled(id, buyerBps, toBuyer, toSeller, arbiterFee, fee);
        _recordOutcome(
            t,
            id,
            e.marks,
            buyerBps == BPS
                ? IReputation.Outcome.BuyerWon
                : (buyerBps == 0 ? IReputation.Outcome.SellerWon : IReputation.Outcome.Split)
        );
        _payOut(
            t,
            id,
            toBuyer,
            toSeller,
            buyerBps < BPS / 2 ? FORFEIT_BUYER : (buyerBps > BPS / 2 ? FORFEIT_SELLER : FORFEIT_NONE)
        );
        _pay(id, t.token, t.arbiter, arbiterFee);
    }

    /// @notice A party ends a dispute by conceding: everything held goes to the other party, and the
    /// conceder forfeits its deposit to it, exactly what losing the ruling would cost and nothing more.
    /// The arbiter, engaged but spared the ruling, gets half its fee (rounded down). Any time while
    /// disputed.
    /// @param t The trade's terms.
    function concede(Terms memory t) external {
        (bytes32 id, Escrow memory e) = _load(t);
        if (msg.sender != t.buyer && msg.sender != t.seller) _unauthorized(id);
        if (e.state != State.Disputed) _wrongState(id, e.state);
        bool buyerConcedes = msg.sender == t.buyer;
        (uint256 toBuyer, uint256 toSeller, uint256 arbiterFee, uint256 fee) =
            computeSplit(e.held, buyerConcedes ? 0 : BPS, t.arbiterFeeBps / 2, t.platformFeeBps);
        _close(e, id, State.Resolved, toSeller + fee, fee);
        emit Conceded(id, msg.sender, toBuyer, toSeller, arbiterFee, fee);
        _recordOutcome(t, id, e.marks, buyerConcedes ? IReputation.Outcome.SellerWon : IReputation.Outcome.BuyerWon);
        _payOut(t, id, toBuyer, toSeller, buyerConcedes ? FORFEIT_BUYER : FORFEIT_SELLER);
        _pay(id, t.token, t.arbiter, arbiterFee);
    }

    /// @notice Ends a dispute the arbiter did not rule in time: anyone, from the arbitration deadline
    /// on. The fallback splits what is held evenly (odd wei to the seller), pays the arbiter nothing and
    /// returns both deposits.
    /// @param t The trade's terms.
    function resolveExpiredDispute(Terms memory t) external {
        (bytes32 id, Escrow memory e) = _load(t);
        if (e.state != State.Disputed) _wrongState(id, e.state);
        if (block.timestamp < e.deadline) _deadlineNotReached(e.deadline);
        (uint256 toBuyer, uint256 toSeller,, uint256 fee) = computeSplit(e.held, BPS / 2, 0, t.platformFeeBps);
        _close(e, id, State.Resolved, toSeller + fee, fee);
        emit DisputeExpired(id, toBuyer, toSeller, fee);
        _recordOutcome(t, id, e.marks, IReputation.Outcome.Split);
        _payOut(t, id, toBuyer, toSeller, FORFEIT_NONE);
    }

    /// @notice Attaches evidence to a trade: the hash of its content (so it cannot be swapped later) and
    /// where it is. Parties and arbiter.
    /// @param t The trade's terms.
    /// @param contentHash Hash of the evidence.
    /// @param uri Where the evidence is, at most MAX_EVIDENCE_URI bytes.
    function submitEvidence(Terms memory t, bytes32 contentHash, string calldata uri) external {
        (bytes32 id,) = _load(t);
        if (msg.sender != t.buyer && msg.sender != t.seller && msg.sender != t.arbiter) {
            _unauthorized(id);
        }
        if (bytes(uri).length > MAX_EVIDENCE_URI) revert UriTooLong(bytes(uri).length, MAX_EVIDENCE_URI);
        emit EvidenceSubmitted(id, msg.sender, contentHash, uri);
    }

    // ---------------------------------------------------------------------------------------------
    // Bonds, credits, fees, ratings
    // ---------------------------------------------------------------------------------------------

    /// @notice Adds to the caller's bond in `token`, from which its trades lock the seller's deposit.
    /// ETH by value; ERC-20 by transferFrom (approve first). Credits what really arrived.
    /// @param token The token, or address(0) for ETH.
    /// @param amount How much.
    function depositBond(address token, uint256 amount) external payable whenNotPaused nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 arrived = amount;
        if (token == address(0)) {
            if (msg.value != amount) revert WrongValue(msg.value, amount);
        } else {
            if (msg.value != 0) revert WrongValue(msg.value, 0);
            uint256 before = IERC20(token).balanceOf(address(this));
            IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
            arrived = IERC20(token).balanceOf(address(this)) - before;
            if (arrived == 0) revert NothingArrived(token);
        }
        uint256 free = bonds[msg.sender][token] + arrived;
        bonds[msg.sender][token] = free;
        emit BondDeposited(msg.sender, token, arrived, free);
    }

    /// @notice Withdraws from the caller's free bond (what no trade has locked) to `to`.
    /// @param token The token, or address(0) for ETH.
    /// @param amount How much.
    /// @param to Where to send it.
    function withdrawBond(address token, uint256 amount, address to) external nonReentrant {
        if (to == address(0) || to == address(this)) revert InvalidReceiver(to);
        uint256 free = bonds[msg.sender][token];
        if (amount == 0 || amount > free) revert InsufficientBond(msg.sender, token, free, amount);
        bonds[msg.sender][token] = free - amount;
        emit BondWithdrawn(msg.sender, token, to, amount, free - amount);
        _send(token, to, amount);
    }

    /// @notice Withdraws the caller's credits in `token` (payouts that could not be delivered) to `to`.
    /// @param token The token, or address(0) for ETH.
    /// @param to Where to send them (any address: a blacklisted receiver picks another).
    function withdraw(address token, address to) external nonReentrant {
        if (to == address(0) || to == address(this)) revert InvalidReceiver(to);
        uint256 amount = credits[msg.sender][token];
        if (amount == 0) revert NothingToWithdraw(msg.sender, token);
        credits[msg.sender][token] = 0;
        emit Withdrawn(msg.sender, token, to, amount);
        _send(token, to, amount);
    }

    /// @notice Pays the platform fees earned in `token` to the fee recipient: those of partial releases,
    /// and those kept in the slots of the ended `trades` given (all in `token`). Anyone may call.
    /// @param token The token, or address(0) for ETH.
    /// @param trades Ended trades whose fee has not been swept (any others are skipped at no loss).
    function sweepFees(address token, Terms[] calldata trades) external nonReentrant {
        uint256 total = feesAccrued[token];
        if (total != 0) feesAccrued[token] = 0;
        bytes32[] memory ids = new bytes32[](trades.length);
        for (uint256 i = 0; i < trades.length; ++i) {
            bytes32 id = tradeId(trades[i]);
            ids[i] = id;
            if (trades[i].token != token) revert WrongAsset(id);
            Escrow storage e = _escrows[id];
            State state = e.state;
            if (state < State.Completed || state == State.Cancelled) revert NotEnded(id, state);
            total += e.held;
            e.held = 0;
        }
        address recipient = feeRecipient;
        if (total == 0) revert NothingToWithdraw(recipient, token);
        emit FeesSwept(token, recipient, total, ids);
        _send(token, recipient, total);
    }

    /// @notice Rates the counterparty of an ended trade (completed, refunded, settled, ruled, timed out,
    /// conceded: losers too) that records reputation: once per party. The rating weighs the price.
    /// @param t The trade's terms.
    /// @param score 1 (worst) to 5 (best).
    /// @param commentHash Hash of an off-chain comment, or zero.
    function rate(Terms memory t, uint8 score, bytes32 commentHash) external {
        (bytes32 id, Escrow memory e) = _load(t);
        uint16 ratedMark = _partyMark(t, id, MARK_BUYER_RATED, MARK_SELLER_RATED);
        if (score == 0 || score > 5) revert InvalidScore(score);
        if (e.state < State.Completed || e.state == State.Cancelled) revert NotEnded(id, e.state);
        if (!_records(e.marks)) revert NotRecorded(id);
        if (e.marks & ratedMark != 0) revert AlreadyRated(id, msg.sender);
        e.marks |= ratedMark;
        _save(id, e);
        bool byBuyer = msg.sender == t.buyer;
        reputation.recordRating(
            id,
            msg.sender,
            byBuyer ? t.seller : t.buyer,
            byBuyer ? IReputation.Role.Seller : IReputation.Role.Buyer,
            t.token,
            t.amount,
            score,
            commentHash
        );
    }

    // ---------------------------------------------------------------------------------------------
    // Owner settings (no access to funds)
    // ---------------------------------------------------------------------------------------------

    /// @notice Sets the platform fee for trades created from now on. Open trades keep theirs.
    /// @param bps The new fee, at most MAX_PLATFORM_FEE_BPS.
    function setPlatformFee(uint16 bps) external onlyOwner {
        if (bps > MAX_PLATFORM_FEE_BPS) revert BpsTooHigh(bps, MAX_PLATFORM_FEE_BPS);
        emit PlatformFeeChanged(platformFeeBps, bps);
        platformFeeBps = bps;
    }

    /// @notice Sets who receives platform fees from now on (including fees not yet swept).
    /// @param recipient The new recipient.
    function setFeeRecipient(address recipient) external onlyOwner {
        if (recipient == address(0)) revert ZeroFeeRecipient();
        emit FeeRecipientChanged(feeRecipient, recipient);
        feeRecipient = recipient;
    }

    /// @notice Lists, re-prices or delists an asset whose trades record reputation. Applies to trades
    /// created from now on (like the platform fee); records already made stay.
    /// @param token The token, or address(0) for ETH.
    /// @param listed Whether it records.
    /// @param minAmount The smallest price that records.
    function setReputationAsset(address token, bool listed, uint128 minAmount) external onlyOwner {
        if (token == address(0)) {
            if (minAmount > type(uint64).max) revert AmountTooLarge(minAmount);
            (_ethListed, _ethMinAmount) = (listed, uint64(minAmount));
        } else {
            _tokenListings[token] = ReputationAsset({listed: listed, minAmount: minAmount});
        }
        emit ReputationAssetSet(token, listed, minAmount);
    }

    /// @notice Stops new money: creating, funding, accepting and filling trades, and bond top-ups.
    /// Every way out stays open.
    function pause() external onlyOwner {
        _pause();
    }

    /// @notice Lets new money in again.
    function unpause() external onlyOwner {
        _unpause();
    }

    // ---------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------

    /// @notice The id of the trade with these terms.
    /// @param t The terms.
    /// @return The id: keccak256 of the ABI-encoded terms.
    function tradeId(Terms memory t) public pure returns (bytes32) {
        return keccak256(abi.encode(t));
    }

    /// @notice Whether trades created now in `token` record reputation, and from what price.
    /// @param token The token, or address(0) for ETH.
    /// @return listed Whether it is listed.
    /// @return minAmount The smallest price that records.
    function reputationAssets(address token) public view returns (bool listed, uint128 minAmount) {
        if (token == address(0)) return (_ethListed, _ethMinAmount);
        ReputationAsset memory asset = _tokenListings[token];
        return (asset.listed, asset.minAmount);
    }

    /// @notice The mutable state of a trade (state None if it does not exist).
    /// @param id The trade id.
    /// @return The trade's escrow slot.
    function escrowOf(bytes32 id) external view returns (Escrow memory) {
        return _escrows[id];
    }

    /// @notice The EIP-712 digest a seller signs for `offer` on this chain and contract.
    /// @param offer The offer.
    /// @return The digest.
    function offerDigest(Offer memory offer) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(OFFER_TYPEHASH, offer)));
    }

    /// @notice Whether a seller's offer nonce was filled or revoked.
    /// @param seller The seller.
    /// @param nonce The nonce.
    /// @return True if used.
    function isNonceUsed(address seller, uint256 nonce) external view returns (bool) {
        return _nonceBitmap[seller][nonce >> 8] & (1 << (nonce & 0xff)) != 0;
    }

    /// @notice The EIP-712 domain separator (binds chain id and this contract's address).
    /// @return The domain separator.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice How `held` is split by a ruling, concession or settlement. The splits round down with
    /// the remainders on the seller's side, so the four parts always sum to `held` exactly; the platform
    /// fee rounds up (it never rounds away).
    /// @param held What the trade holds.
    /// @param buyerBps The buyer's share of what is left after the arbiter's fee.
    /// @param arbiterFeeBps The arbiter's fee on `held` (0 for settlements and the expired-dispute fallback).
    /// @param platformFeeBps_ The platform fee on the seller's gross share (0 to get the gross share).
    /// @return toBuyer The buyer's share.
    /// @return toSeller The seller's share (net of the platform fee if `platformFeeBps_` is non-zero).
    /// @return arbiterFee The arbiter's fee.
    /// @return platformFee The platform fee.
    function computeSplit(uint256 held, uint16 buyerBps, uint16 arbiterFeeBps, uint16 platformFeeBps_)
        public
        pure
        returns (uint256 toBuyer, uint256 toSeller, uint256 arbiterFee, uint256 platformFee)
    {
        if (buyerBps > BPS) revert BpsTooHigh(buyerBps, BPS);
        if (arbiterFeeBps > BPS) revert BpsTooHigh(arbiterFeeBps, BPS);
        if (platformFeeBps_ > BPS) revert BpsTooHigh(platformFeeBps_, BPS);
        arbiterFee = held * arbiterFeeBps / BPS;
        uint256 pool = held - arbiterFee;
        toBuyer = pool * buyerBps / BPS;
        uint256 sellerGross = pool - toBuyer;
        platformFee = _bpsUp(sellerGross, platformFeeBps_);
        toSeller = sellerGross - platformFee;
    }

    // ---------------------------------------------------------------------------------------------
    // Internal functions
    // ---------------------------------------------------------------------------------------------

    function _fill(Offer memory o, bytes calldata signature, Permit memory permit) private returns (bytes32 id) {
        if (block.timestamp > o.expiry) revert OfferExpired(o.expiry);
        if (o.buyer != address(0) && o.buyer != msg.sender) revert NotOfferBuyer(o.buyer);
        if (!SignatureChecker.isValidSignatureNow(o.seller, offerDigest(o), signature)) {
            revert InvalidSignature(o.seller);
        }
        _useNonce(o.seller, o.nonce);
        Terms memory t;
        t.buyer = msg.sender;
        t.seller = o.seller;
        t.token = o.token;
        t.arbiter = o.arbiter;
        t.amount = o.amount;
        t.buyerDeposit = o.buyerDeposit;
        t.sellerDeposit = o.sellerDeposit;
        t.arbiterFeeBps = o.arbiterFeeBps;
        t.platformFeeBps = o.platformFeeBps;
        t.releaseWindow = o.releaseWindow;
        t.arbitrationWindow = o.arbitrationWindow;
        t.flags = o.flags | FLAG_CREATED_BY_SELLER;
        t.termsHash = o.termsHash;
        t.salt = o.nonce;
        id = _openFunded(tradeId(t), t, permit, true);
        emit OfferFilled(o.seller, o.nonce, id);
    }

    /// @dev Creates a trade funded by `t.buyer` (the caller): live at once if the seller's deposit is in
    /// (`sellerIn`: it signed the offer) or zero, else waiting for the seller until the funding window
    /// ends. Effects before interactions: the slot is written with the requested price before tokens
    /// are pulled, and corrected only if a fee-on-transfer token delivered less.
    function _openFunded(bytes32 id, Terms memory t, Permit memory permit, bool sellerIn) private returns (bytes32) {
        _checkTerms(t);
        _checkValue(t);
        if (_escrows[id].state != State.None) revert TradeExists(id);
        uint16 marks = _recordsMark(t);
        if (sellerIn) marks |= _lockSellerDeposit(t);
        State state = State.Funded;
        uint40 deadline;
        if (sellerIn || t.sellerDeposit == 0) {
            deadline = uint40(block.timestamp + t.releaseWindow);
        } else {
            _checkWindow(t.fundingWindow);
            state = State.AwaitingDeposit;
            deadline = uint40(block.timestamp + t.fundingWindow);
        }
        _save(id, Escrow({held: t.amount, deadline: deadline, state: state, marks: marks, settlementBps: 0}));
        uint256 held = t.amount;
        if (t.token != address(0)) held = _pullTokens(id, t, permit);
        emit TradeCreated(id, t.buyer, t.seller, t, held);
        return id;
    }

    /// @dev Pulls the price and the buyer's deposit from the buyer and credits the trade with the part
    /// of the price that really arrived (the deposit is fixed by the terms; a shortfall comes off the
    /// price). nonReentrant: the balance-difference measurement must not be disturbed by a re-entrant
    /// token.
    function _pullTokens(bytes32 id, Terms memory t, Permit memory permit)
        private
        nonReentrant
        returns (uint256 arrived)
    {
        uint256 total = uint256(t.amount) + t.buyerDeposit;
        if (permit.deadline != 0) {
            // A failed permit (front-run, or a token without EIP-2612) is not fatal: an existing
            // allowance may still cover the transfer, and transferFrom reports if it does not.
            try IERC20Permit(t.token).permit(
                t.buyer, address(this), total, permit.deadline, permit.v, permit.r, permit.s
            ) {} catch {}
        }
        uint256 before = IERC20(t.token).balanceOf(address(this));
        IERC20(t.token).safeTransferFrom(t.buyer, address(this), total);
        arrived = IERC20(t.token).balanceOf(address(this)) - before;
        if (arrived != total) {
            if (arrived <= t.buyerDeposit) revert NothingArrived(t.token);
            arrived -= t.buyerDeposit;
            if (arrived > type(uint128).max) revert AmountTooLarge(arrived);
            _escrows[id].held = uint128(arrived);
        } else {
            arrived = t.amount;
        }
    }

    /// @dev Locks the seller's deposit from its free bond; returns the marks that say the seller acted
    /// (and that its deposit is in, when there is one).
    function _lockSellerDeposit(Terms memory t) private returns (uint16) {
        uint256 deposit = t.sellerDeposit;
        if (deposit == 0) return MARK_SELLER_ACTED;
        uint256 free = bonds[t.seller][t.token];
        if (free < deposit) revert InsufficientBond(t.seller, t.token, free, deposit);
        bonds[t.seller][t.token] = free - deposit;
        return MARK_SELLER_ACTED | MARK_SELLER_DEPOSITED;
    }

    /// @dev MARK_RECORDS if the trade asks to record reputation and its asset is listed with a minimum
    /// the price reaches, checked once, at creation (like the platform fee).
    function _recordsMark(Terms memory t) private view returns (uint16) {
        if (t.flags & FLAG_RECORD_REPUTATION == 0) return 0;
        (bool listed, uint128 minAmount) = reputationAssets(t.token);
        // A price beyond a record's 112-bit volume would wrap it: such a trade records nothing.
        return listed && t.amount >= minAmount && t.amount <= type(uint112).max ? MARK_RECORDS : 0;
    }

    /// @dev Whether an ended trade counts for reputation: it asked to, in a listed asset, and the seller
    /// entered it knowingly (the buyer always has: only the buyer funds).
    function _records(uint16 marks) private pure returns (bool) {
        return marks & (MARK_RECORDS | MARK_SELLER_ACTED) == (MARK_RECORDS | MARK_SELLER_ACTED);
    }

    /// @dev Pays a live trade's end: the price parts and both deposits, one transfer per party. The
    /// deposits follow `forfeit` (table in IP2PEscrow). No event of its own: who got each deposit
    /// follows from the terms and the ending's event by that table (an event would cost ~1.6k gas).
    function _payOut(Terms memory t, bytes32 id, uint256 toBuyer, uint256 toSeller, uint8 forfeit) private {
        if (forfeit == FORFEIT_BUYER) toSeller += t.buyerDeposit;
        else toBuyer += t.buyerDeposit;
        if (forfeit == FORFEIT_SELLER) toBuyer += t.sellerDeposit;
        else toSeller += t.sellerDeposit;
        _pay(id, t.token, t.seller, toSeller);
        _pay(id, t.token, t.buyer, toBuyer);
    }

    /// @dev Delivers a payout, or credits it if the receiver rejects it, so that no receiver can block
    /// a trade's transition.
    function _pay(bytes32 id, address token, address to, uint256 amount) private {
        if (amount == 0) return;
        bool ok;
        if (token == address(0)) {
            // Assembly, on purpose: a fixed gas budget and no return data copied, so a receiver can
            // neither burn the caller's gas nor return-bomb it (tested in test_attacks.py).
            assembly ("memory-safe") {
                ok := call(ETH_PAYOUT_GAS, to, amount, 0, 0, 0, 0)
            }
        } else {
            ok = IERC20(token).trySafeTransfer(to, amount);
        }
        if (!ok) {
            credits[to][token] += amount;
            emit PaymentCredited(id, to, token, amount);
        }
    }

    /// @dev Sends credits, bonds or fees; unlike `_pay`, a failure reverts (the caller chose the receiver).
    function _send(address token, address to, uint256 amount) private {
        if (token == address(0)) {
            (bool ok,) = to.call{value: amount}("");
            if (!ok) revert WithdrawFailed(to);
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
    }

    /// @dev Marks a trade paid out: only the platform fee left held (until swept), terminal state,
    /// seller-paid mark if it got any.
    function _close(Escrow memory e, bytes32 id, State state, uint256 sellerGross, uint256 fee) private {
        e.held = uint128(fee);
        e.state = state;
        if (sellerGross != 0) e.marks |= MARK_SELLER_PAID;
        _save(id, e);
    }

    /// @dev Reports a trade's end to the reputation contract, if the trade counts (see `_records`). The
    /// contract is this escrow's own and cannot fail; a caller who starves the call reverts the whole
    /// transaction, so no one can end a trade while dodging its record.
    function _recordOutcome(Terms memory t, bytes32 id, uint16 marks, IReputation.Outcome outcome) private {
        if (!_records(marks)) return;
        reputation.recordOutcome(t.buyer, t.seller, t.token, t.amount, outcome);
    }

    /// @dev One place that writes a trade's slot (shared code: the contract must stay under EIP-170).
    function _save(bytes32 id, Escrow memory e) private {
        _escrows[id] = e;
    }

    // Shared revert paths: one copy of each error's encoding instead of one per call site.
    function _wrongState(bytes32 id, State state) private pure {
        revert WrongState(id, state);
    }

    function _unauthorized(bytes32 id) private view {
        revert Unauthorized(msg.sender, id);
    }

    function _deadlinePassed(uint40 deadline) private pure {
        revert DeadlinePassed(deadline);
    }

    function _deadlineNotReached(uint40 deadline) private pure {
        revert DeadlineNotReached(deadline);
    }

    /// @dev The id of the terms passed as the first argument, hashed straight from calldata: a static
    /// struct's ABI encoding is its 15 words at offset 4, and the decoder has already rejected any
    /// non-canonical word, so this equals `tradeId(t)` without re-encoding the struct in memory.
    function _calldataId() private pure returns (bytes32 id) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, 4, 480)
            id := keccak256(ptr, 480)
        }
    }

    /// @dev Loads the trade whose terms are the call's first argument.
    function _load(Terms memory) private view returns (bytes32 id, Escrow memory e) {
        id = _calldataId();
        e = _escrows[id];
        if (e.state == State.None) revert UnknownTrade(id);
    }

    /// @dev Returns `buyerMark` if the caller is the buyer, `sellerMark` if the seller; reverts otherwise.
    function _partyMark(Terms memory t, bytes32 id, uint16 buyerMark, uint16 sellerMark)
        private
        view
        returns (uint16)
    {
        if (msg.sender == t.buyer) return buyerMark;
        if (msg.sender == t.seller) return sellerMark;
        _unauthorized(id);
    }

    function _checkTerms(Terms memory t) private view {
        if (t.buyer == address(0) || t.seller == address(0)) revert ZeroParty();
        if (t.buyer == t.seller) revert SameParty(t.buyer);
        if (t.amount == 0) revert ZeroAmount();
        if (t.flags > FLAGS_ALL) revert InvalidFlags(t.flags);
        if (t.arbiter == address(0)) {
            if (t.arbiterFeeBps != 0) revert FeeWithoutArbiter(t.arbiterFeeBps);
        } else {
            if (t.arbiter == t.buyer || t.arbiter == t.seller) revert ArbiterIsParty(t.arbiter);
            if (t.arbiterFeeBps > MAX_ARBITER_FEE_BPS) revert BpsTooHigh(t.arbiterFeeBps, MAX_ARBITER_FEE_BPS);
            _checkWindow(t.arbitrationWindow);
        }
        _checkWindow(t.releaseWindow);
        uint16 current = platformFeeBps;
        if (t.platformFeeBps != current) revert PlatformFeeMismatch(t.platformFeeBps, current);
    }

    function _checkWindow(uint32 window) private pure {
        if (window == 0 || window > MAX_WINDOW) revert InvalidWindow(window, MAX_WINDOW);
    }

    function _checkValue(Terms memory t) private view {
        uint256 expected = t.token == address(0) ? uint256(t.amount) + t.buyerDeposit : 0;
        if (msg.value != expected) revert WrongValue(msg.value, expected);
    }

    function _useNonce(address seller, uint256 nonce) private {
        uint256 bit = 1 << (nonce & 0xff);
        uint256 word = _nonceBitmap[seller][nonce >> 8];
        if (word & bit != 0) revert NonceUsed(seller, nonce);
        _nonceBitmap[seller][nonce >> 8] = word | bit;
    }

    function _noPermit() private pure returns (Permit memory p) {}

    /// @dev `amount * bps / BPS`, rounded up: a fee is never rounded away.
    function _bpsUp(uint256 amount, uint16 bps) private pure returns (uint256) {
        return (amount * bps + BPS - 1) / BPS;
    }
}
