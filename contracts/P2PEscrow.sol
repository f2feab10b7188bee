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

/// @title P2PEscrow
/// @notice Escrow for trades between strangers, in ETH or any ERC-20: the buyer funds, the seller
/// delivers, the buyer releases; disputes go to an arbiter both accepted; timeouts make sure money is
/// never stuck.
/// @dev Note:
/// - Storage: one slot per trade (`Escrow`), keyed by `keccak256(abi.encode(terms))`. Terms are
///   resupplied in calldata by every call and checked by hashing, which is what keeps a trade's
///   life near the cost of its transfers (storing the terms would cost ~100k gas more per trade).
/// - Every non-terminal state has a way out that needs no one's cooperation: an unfunded trade can
///   be cancelled by anyone after its funding deadline; a funded one times out to the outcome fixed
///   at creation; a dispute the arbiter does not rule in time can be ended by anyone with an even split.
/// - Payouts never block a transition: a receiver that rejects ETH or tokens is credited instead, and
///   withdraws later with `withdraw` (to any address, so a blacklisted one can still get its money).
/// - Money only ever goes to a trade's buyer, seller and arbiter, and platform fees to the fee
///   recipient. The owner sets the fee for *new* trades (capped at MAX_PLATFORM_FEE_BPS), the fee
///   recipient, and can pause the creation of new trades; it has no path to any held funds.
/// - Invariant, per asset: balance >= sum(held) + sum(credits) + feesAccrued (`>=` because ETH can be
///   forced in).
/// - Rounding: every division rounds down and the remainder goes to the seller's side, so shares
///   always sum exactly to what is held (see `computeSplit`).
contract P2PEscrow is IP2PEscrow, EIP712, Ownable2Step, ReentrancyGuard, Pausable {
    using SafeERC20 for IERC20;

    // ---------------------------------------------------------------------------------------------
    // Constants
    // ---------------------------------------------------------------------------------------------

    /// @notice Basis points in 100%.
    uint16 public constant BPS = 10_000;
    /// @notice The highest platform fee the owner can ever set: 5%.
    uint16 public constant MAX_PLATFORM_FEE_BPS = 500;
    /// @notice The highest arbiter fee a trade can name: 20%.
    uint16 public constant MAX_ARBITER_FEE_BPS = 2_000;
    /// @notice The longest any window can be: money is never locked longer than a year at a time.
    uint32 public constant MAX_WINDOW = 365 days;

    /// @notice Terms flag: on timeout, release to the seller (marketplace); if unset, refund the buyer
    /// (crypto-for-fiat) unless the seller marked the trade delivered/paid.
    uint8 public constant FLAG_TIMEOUT_RELEASES = 1;
    /// @notice Terms flag: report the outcome to the reputation contract and allow ratings.
    uint8 public constant FLAG_RECORD_REPUTATION = 2;
    /// @notice Terms flag: the seller created the trade (decides who may cancel it before funding).
    uint8 public constant FLAG_CREATED_BY_SELLER = 4;
    uint8 private constant FLAGS_ALL = 7;

    uint8 private constant MARK_DELIVERED = 1;
    uint8 private constant MARK_SELLER_PAID = 2;
    uint8 private constant MARK_PROPOSED_BY_BUYER = 4;
    uint8 private constant MARK_PROPOSED_BY_SELLER = 8;
    uint8 private constant MARK_BUYER_RATED = 16;
    uint8 private constant MARK_SELLER_RATED = 32;

    /// @dev Gas given to an ETH receiver: enough for any wallet contract's receive hook, too little to
    /// grief the caller. A receiver that needs more is credited and withdraws with all the gas it wants.
    uint256 private constant ETH_PAYOUT_GAS = 50_000;
    /// @dev Gas given to the reputation call. The caller must provide it (see `_recordOutcome`).
    uint256 private constant REPUTATION_GAS = 120_000;

    /// @notice EIP-712 type of a signed offer.
    bytes32 public constant OFFER_TYPEHASH = keccak256(
        "Offer(address seller,address buyer,address token,address arbiter,uint128 amount,uint16 arbiterFeeBps,"
        "uint16 platformFeeBps,uint32 releaseWindow,uint32 arbitrationWindow,uint8 flags,bytes32 termsHash,"
        "uint256 nonce,uint64 expiry)"
    );

    /// @notice Where outcomes and ratings are recorded. Fixed: the escrow is not upgradeable.
    IReputation public immutable reputation;

    // ---------------------------------------------------------------------------------------------
    // Storage
    // ---------------------------------------------------------------------------------------------

    /// @notice The platform fee, in basis points, that new trades must name. Pausable comes last in the
    /// inheritance list and this is declared first, so Pausable's flag, this fee and the recipient share
    /// one slot: creating a trade reads both of the first two with one cold SLOAD.
    uint16 public platformFeeBps;
    /// @notice Who receives platform fees (through `withdrawFees`).
    address public feeRecipient;

    mapping(bytes32 id => Escrow) private _escrows;
    /// @notice Payouts that could not be delivered, per receiver and token, for `withdraw`.
    mapping(address account => mapping(address token => uint256)) public credits;
    /// @notice Platform fees earned and not yet paid out, per token.
    mapping(address token => uint256) public feesAccrued;
    mapping(address seller => mapping(uint256 word => uint256)) private _nonceBitmap;

    /// @param owner_ Manages the fee and pause; has no access to funds.
    /// @param feeRecipient_ Receives platform fees.
    /// @param platformFeeBps_ The initial platform fee, at most MAX_PLATFORM_FEE_BPS.
    /// @param reputation_ The reputation contract this escrow reports to.
    constructor(address owner_, address feeRecipient_, uint16 platformFeeBps_, IReputation reputation_)
        EIP712("P2PEscrow", "1")
        Ownable(owner_)
    {
        if (feeRecipient_ == address(0)) revert ZeroFeeRecipient();
        if (platformFeeBps_ > MAX_PLATFORM_FEE_BPS) revert BpsTooHigh(platformFeeBps_, MAX_PLATFORM_FEE_BPS);
        feeRecipient = feeRecipient_;
        platformFeeBps = platformFeeBps_;
        reputation = reputation_;
    }

    // ---------------------------------------------------------------------------------------------
    // Creating and funding
    // ---------------------------------------------------------------------------------------------

    /// @notice Creates an unfunded trade. Either party may create it; the buyer funds it later.
    /// @param t The terms; `flags` must carry FLAG_CREATED_BY_SELLER exactly when the seller calls.
    /// @return id The trade id.
    function create(Terms calldata t) external whenNotPaused returns (bytes32 id) {
        _checkTerms(t);
        bool bySeller = msg.sender == t.seller;
        if (!bySeller && msg.sender != t.buyer) revert Unauthorized(msg.sender, tradeId(t));
        if (bySeller != (t.flags & FLAG_CREATED_BY_SELLER != 0)) revert InvalidFlags(t.flags);
        _checkWindow(t.fundingWindow);
        id = tradeId(t);
        if (_escrows[id].state != State.None) revert TradeExists(id);
        uint40 deadline = uint40(block.timestamp + t.fundingWindow);
        _escrows[id] = Escrow({held: 0, deadline: deadline, state: State.AwaitingFunding, marks: 0, settlementBps: 0});
        emit TradeCreated(id, t.buyer, t.seller, t, 0, deadline);
    }

    /// @notice Creates and funds a trade in one transaction. Only the buyer. ETH by value; ERC-20 by
    /// transferFrom (approve this contract first, or use `createAndFundWithPermit`).
    /// @param t The terms; FLAG_CREATED_BY_SELLER must be unset.
    /// @return id The trade id.
    function createAndFund(Terms calldata t) external payable whenNotPaused returns (bytes32 id) {
        if (msg.sender != t.buyer) revert Unauthorized(msg.sender, tradeId(t));
        if (t.flags & FLAG_CREATED_BY_SELLER != 0) revert InvalidFlags(t.flags);
        return _openFunded(t, _noPermit());
    }

    /// @notice `createAndFund` for an EIP-2612 token: the permit replaces the approve transaction.
    /// @param t The terms (an ERC-20 trade).
    /// @param permit The buyer's permit for exactly `t.amount` to this contract.
    /// @return id The trade id.
    function createAndFundWithPermit(Terms calldata t, Permit calldata permit)
        external
        whenNotPaused
        returns (bytes32 id)
    {
        if (msg.sender != t.buyer) revert Unauthorized(msg.sender, tradeId(t));
        if (t.flags & FLAG_CREATED_BY_SELLER != 0) revert InvalidFlags(t.flags);
        return _openFunded(t, permit);
    }

    /// @notice Funds a trade created earlier. Only the buyer, before the funding deadline.
    /// @param t The trade's terms.
    function fund(Terms calldata t) external payable {
        (bytes32 id, Escrow memory e) = _load(t);
        if (msg.sender != t.buyer) revert Unauthorized(msg.sender, id);
        if (e.state != State.AwaitingFunding) revert WrongState(id, e.state);
        if (block.timestamp >= e.deadline) revert DeadlinePassed(e.deadline);
        _checkValue(t);
        uint40 deadline = uint40(block.timestamp + t.releaseWindow);
        _escrows[id] = Escrow({held: t.amount, deadline: deadline, state: State.Funded, marks: 0, settlementBps: 0});
        uint256 held = t.amount;
        if (t.token != address(0)) held = _pullTokens(id, t.token, t.buyer, t.amount, _noPermit());
        emit TradeFunded(id, held, deadline);
    }

    /// @notice Fills a seller's signed offer: creates the trade with the caller as buyer and funds it.
    /// @param offer The offer as signed.
    /// @param signature The seller's EIP-712 signature (or an ERC-1271 contract signature).
    /// @return id The trade id.
    function fillOffer(Offer calldata offer, bytes calldata signature)
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
    /// @param permit The buyer's permit for exactly `offer.amount` to this contract.
    /// @return id The trade id.
    function fillOfferWithPermit(Offer calldata offer, bytes calldata signature, Permit calldata permit)
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

    /// @notice Cancels an unfunded trade: its creator at any time, anyone once the funding deadline has
    /// passed. Nothing moves.
    /// @param t The trade's terms.
    function cancel(Terms calldata t) external {
        (bytes32 id, Escrow memory e) = _load(t);
        if (e.state != State.AwaitingFunding) revert WrongState(id, e.state);
        address creator = t.flags & FLAG_CREATED_BY_SELLER != 0 ? t.seller : t.buyer;
        if (msg.sender != creator && block.timestamp < e.deadline) revert DeadlineNotReached(e.deadline);
        e.state = State.Cancelled;
        _escrows[id] = e;
        emit Cancelled(id, msg.sender);
    }

    // ---------------------------------------------------------------------------------------------
    // Paying out
    // ---------------------------------------------------------------------------------------------

    /// @notice The buyer releases `amount` to the seller (all of it or a part, for partial delivery).
    /// The platform fee is taken from what the seller receives. The trade ends when nothing is left.
    /// @param t The trade's terms.
    /// @param amount The part to release, at most what is held.
    function release(Terms calldata t, uint256 amount) external nonReentrant {
        (bytes32 id, Escrow memory e) = _load(t);
        if (msg.sender != t.buyer) revert Unauthorized(msg.sender, id);
        if (e.state != State.Funded) revert WrongState(id, e.state);
        if (amount == 0 || amount > e.held) revert InvalidPart(amount, e.held);
        e.held -= uint128(amount);
        e.marks |= MARK_SELLER_PAID;
        if (e.held == 0) e.state = State.Completed;
        _escrows[id] = e;
        (uint256 toSeller, uint256 fee) = _paySeller(t, amount);
        emit Released(id, toSeller, fee, e.held);
        if (e.held == 0) _recordOutcome(t, id, IReputation.Outcome.Completed);
    }

    /// @notice The seller refunds `amount` to the buyer (all of it or a part). The trade ends when
    /// nothing is left.
    /// @param t The trade's terms.
    /// @param amount The part to refund, at most what is held.
    function refund(Terms calldata t, uint256 amount) external nonReentrant {
        (bytes32 id, Escrow memory e) = _load(t);
        if (msg.sender != t.seller) revert Unauthorized(msg.sender, id);
        if (e.state != State.Funded) revert WrongState(id, e.state);
        if (amount == 0 || amount > e.held) revert InvalidPart(amount, e.held);
        e.held -= uint128(amount);
        bool sellerPaid = e.marks & MARK_SELLER_PAID != 0;
        if (e.held == 0) e.state = sellerPaid ? State.Completed : State.Refunded;
        _escrows[id] = e;
        emit Refunded(id, amount, e.held);
        _pay(t.token, t.buyer, amount);
        if (e.held == 0) {
            _recordOutcome(t, id, sellerPaid ? IReputation.Outcome.Completed : IReputation.Outcome.Refunded);
        }
    }

    /// @notice Once the deadline has passed with no release or dispute, anyone may apply the timeout
    /// fixed at creation: release to the seller if the terms say so or the seller marked delivery,
    /// else refund the buyer.
    /// @param t The trade's terms.
    function timeout(Terms calldata t) external nonReentrant {
        (bytes32 id, Escrow memory e) = _load(t);
        if (e.state != State.Funded) revert WrongState(id, e.state);
        if (block.timestamp < e.deadline) revert DeadlineNotReached(e.deadline);
        uint256 amount = e.held;
        bool toSeller = t.flags & FLAG_TIMEOUT_RELEASES != 0 || e.marks & MARK_DELIVERED != 0;
        if (toSeller) e.marks |= MARK_SELLER_PAID;
        e.held = 0;
        e.state = e.marks & MARK_SELLER_PAID != 0 ? State.Completed : State.Refunded;
        _escrows[id] = e;
        uint256 fee;
        if (toSeller) {
            (, fee) = _paySeller(t, amount);
        } else {
            _pay(t.token, t.buyer, amount);
        }
        emit TimedOut(id, toSeller, amount, fee);
        _recordOutcome(
            t, id, e.state == State.Completed ? IReputation.Outcome.Completed : IReputation.Outcome.Refunded
        );
    }

    /// @notice The seller marks the trade delivered (goods shipped, service done, fiat paid: whatever the
    /// off-chain terms say).
    /// From then on the timeout releases to the seller, and the buyer gets a fresh release window to
    /// inspect and release or dispute.
    /// @param t The trade's terms.
    function markDelivered(Terms calldata t) external {
        (bytes32 id, Escrow memory e) = _load(t);
        if (msg.sender != t.seller) revert Unauthorized(msg.sender, id);
        if (e.state != State.Funded) revert WrongState(id, e.state);
        if (e.marks & MARK_DELIVERED != 0) revert AlreadyMarked(id);
        if (block.timestamp >= e.deadline) revert DeadlinePassed(e.deadline);
        e.marks |= MARK_DELIVERED;
        e.deadline = uint40(block.timestamp + t.releaseWindow);
        _escrows[id] = e;
        emit DeliveryMarked(id, e.deadline);
    }

    // ---------------------------------------------------------------------------------------------
    // Settling and disputing
    // ---------------------------------------------------------------------------------------------

    /// @notice Proposes a split of what is held: `buyerBps` to the buyer, the rest to the seller (less
    /// the platform fee). Replaces any earlier proposal. Works while funded or disputed.
    /// @param t The trade's terms.
    /// @param buyerBps The buyer's share in basis points.
    function proposeSettlement(Terms calldata t, uint16 buyerBps) external {
        (bytes32 id, Escrow memory e) = _load(t);
        if (e.state != State.Funded && e.state != State.Disputed) revert WrongState(id, e.state);
        if (buyerBps > BPS) revert BpsTooHigh(buyerBps, BPS);
        uint8 proposer = _partyMark(t, id, MARK_PROPOSED_BY_BUYER, MARK_PROPOSED_BY_SELLER);
        e.marks = (e.marks & ~(MARK_PROPOSED_BY_BUYER | MARK_PROPOSED_BY_SELLER)) | proposer;
        e.settlementBps = buyerBps;
        _escrows[id] = e;
        emit SettlementProposed(id, msg.sender, buyerBps);
    }

    /// @notice Accepts the counterparty's settlement proposal and pays it out. `buyerBps` must repeat
    /// the proposal, so a proposal changed at the last moment cannot be accepted by surprise.
    /// @param t The trade's terms.
    /// @param buyerBps The proposal being accepted.
    function acceptSettlement(Terms calldata t, uint16 buyerBps) external nonReentrant {
        (bytes32 id, Escrow memory e) = _load(t);
        if (e.state != State.Funded && e.state != State.Disputed) revert WrongState(id, e.state);
        uint8 counterpartyProposal = _partyMark(t, id, MARK_PROPOSED_BY_SELLER, MARK_PROPOSED_BY_BUYER);
        if (e.marks & counterpartyProposal == 0 || e.settlementBps != buyerBps) {
            revert SettlementMismatch(e.marks & counterpartyProposal == 0 ? 0 : e.settlementBps, buyerBps);
        }
        (uint256 toBuyer, uint256 sellerGross,,) = computeSplit(e.held, buyerBps, 0, 0);
        _close(e, id, State.Settled, sellerGross);
        (uint256 toSeller, uint256 fee) = _paySeller(t, sellerGross);
        _pay(t.token, t.buyer, toBuyer);
        emit Settled(id, buyerBps, toBuyer, toSeller, fee);
        _recordOutcome(t, id, IReputation.Outcome.Settled);
    }

    /// @notice Opens a dispute. Either party, while funded and before the deadline, on a trade with an
    /// arbiter. Freezes the trade until the arbiter rules, the parties settle, or the arbitration window
    /// ends.
    /// @param t The trade's terms.
    function dispute(Terms calldata t) external {
        (bytes32 id, Escrow memory e) = _load(t);
        if (msg.sender != t.buyer && msg.sender != t.seller) revert Unauthorized(msg.sender, id);
        if (e.state != State.Funded) revert WrongState(id, e.state);
        if (t.arbiter == address(0)) revert NoArbiter(id);
        if (block.timestamp >= e.deadline) revert DeadlinePassed(e.deadline);
        e.state = State.Disputed;
        e.deadline = uint40(block.timestamp + t.arbitrationWindow);
        _escrows[id] = e;
        emit Disputed(id, msg.sender, e.deadline);
    }

    /// @notice The arbiter rules: the arbiter's fee comes off the top, `buyerBps` of the rest goes to the
    /// buyer, the remainder to the seller less the platform fee. Before the arbitration deadline.
    /// @param t The trade's terms.
    /// @param buyerBps The buyer's share in basis points.
    function rule(Terms calldata t, uint16 buyerBps) external nonReentrant {
        (bytes32 id, Escrow memory e) = _load(t);
        if (msg.sender != t.arbiter) revert Unauthorized(msg.sender, id);
        if (e.state != State.Disputed) revert WrongState(id, e.state);
        if (block.timestamp >= e.deadline) revert DeadlinePassed(e.deadline);
        if (buyerBps > BPS) revert BpsTooHigh(buyerBps, BPS);
        (uint256 toBuyer, uint256 sellerGross, uint256 arbiterFee,) =
            computeSplit(e.held, buyerBps, t.arbiterFeeBps, 0);
        _close(e, id, State.Resolved, sellerGross);
        (uint256 toSeller, uint256 fee) = _paySeller(t, sellerGross);
        _pay(t.token, t.buyer, toBuyer);
        _pay(t.token, t.arbiter, arbiterFee);
        emit Ruled(id, buyerBps, toBuyer, toSeller, arbiterFee, fee);
        IReputation.Outcome outcome = buyerBps == BPS
            ? IReputation.Outcome.BuyerWon
            : (buyerBps == 0 ? IReputation.Outcome.SellerWon : IReputation.Outcome.Split);
        _recordOutcome(t, id, outcome);
    }

    /// @notice Ends a dispute the arbiter did not rule in time: anyone, from the arbitration deadline
    /// on. The fallback splits what is held evenly (odd wei to the seller) and pays the arbiter nothing.
    /// @param t The trade's terms.
    function resolveExpiredDispute(Terms calldata t) external nonReentrant {
        (bytes32 id, Escrow memory e) = _load(t);
        if (e.state != State.Disputed) revert WrongState(id, e.state);
        if (block.timestamp < e.deadline) revert DeadlineNotReached(e.deadline);
        (uint256 toBuyer, uint256 sellerGross,,) = computeSplit(e.held, BPS / 2, 0, 0);
        _close(e, id, State.Resolved, sellerGross);
        (uint256 toSeller, uint256 fee) = _paySeller(t, sellerGross);
        _pay(t.token, t.buyer, toBuyer);
        emit DisputeExpired(id, toBuyer, toSeller, fee);
        _recordOutcome(t, id, IReputation.Outcome.Split);
    }

    /// @notice Attaches evidence to a trade (a URI and the hash of its content). Parties and arbiter.
    /// @param t The trade's terms.
    /// @param uri Where the evidence is.
    /// @param contentHash Hash of the evidence, so it cannot be swapped later.
    function submitEvidence(Terms calldata t, string calldata uri, bytes32 contentHash) external {
        (bytes32 id,) = _load(t);
        if (msg.sender != t.buyer && msg.sender != t.seller && msg.sender != t.arbiter) {
            revert Unauthorized(msg.sender, id);
        }
        emit EvidenceSubmitted(id, msg.sender, uri, contentHash);
    }

    // ---------------------------------------------------------------------------------------------
    // Credits, fees, ratings
    // ---------------------------------------------------------------------------------------------

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

    /// @notice Pays the platform fees earned in `token` to the fee recipient. Anyone may call.
    /// @param token The token, or address(0) for ETH.
    function withdrawFees(address token) external nonReentrant {
        uint256 amount = feesAccrued[token];
        address recipient = feeRecipient;
        if (amount == 0) revert NothingToWithdraw(recipient, token);
        feesAccrued[token] = 0;
        emit FeesWithdrawn(token, recipient, amount);
        _send(token, recipient, amount);
    }

    /// @notice Rates the counterparty of a finished trade in which the seller was paid: once per party,
    /// only on trades that record reputation.
    /// @param t The trade's terms.
    /// @param score 1 (worst) to 5 (best).
    /// @param commentHash Hash of an off-chain comment, or zero.
    function rate(Terms calldata t, uint8 score, bytes32 commentHash) external {
        (bytes32 id, Escrow memory e) = _load(t);
        uint8 ratedMark = _partyMark(t, id, MARK_BUYER_RATED, MARK_SELLER_RATED);
        if (score == 0 || score > 5) revert InvalidScore(score);
        bool finished = e.state == State.Completed || e.state == State.Settled || e.state == State.Resolved;
        if (
            !finished || e.marks & MARK_SELLER_PAID == 0 || e.marks & ratedMark != 0
                || t.flags & FLAG_RECORD_REPUTATION == 0
        ) revert NotRateable(id);
        e.marks |= ratedMark;
        _escrows[id] = e;
        address ratee = msg.sender == t.buyer ? t.seller : t.buyer;
        reputation.recordRating(id, msg.sender, ratee, score, commentHash);
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

    /// @notice Sets who receives platform fees from now on (including fees accrued and not withdrawn).
    /// @param recipient The new recipient.
    function setFeeRecipient(address recipient) external onlyOwner {
        if (recipient == address(0)) revert ZeroFeeRecipient();
        emit FeeRecipientChanged(feeRecipient, recipient);
        feeRecipient = recipient;
    }

    /// @notice Stops the creation of new trades (and the filling of offers). Open trades go on.
    function pause() external onlyOwner {
        _pause();
    }

    /// @notice Allows the creation of new trades again.
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

    /// @notice The mutable state of a trade (state None if it does not exist).
    /// @param id The trade id.
    /// @return The trade's escrow slot.
    function escrowOf(bytes32 id) external view returns (Escrow memory) {
        return _escrows[id];
    }

    /// @notice The EIP-712 digest a seller signs for `offer` on this chain and contract.
    /// @param offer The offer.
    /// @return The digest.
    function offerDigest(Offer calldata offer) public view returns (bytes32) {
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

    /// @notice How `held` is split by a ruling or settlement. Every division rounds down; the
    /// remainders go to the seller's side, so the four parts always sum to `held` exactly.
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
        arbiterFee = _bps(held, arbiterFeeBps);
        uint256 pool = held - arbiterFee;
        toBuyer = _bps(pool, buyerBps);
        uint256 sellerGross = pool - toBuyer;
        platformFee = _bps(sellerGross, platformFeeBps_);
        toSeller = sellerGross - platformFee;
    }

    // ---------------------------------------------------------------------------------------------
    // Internal functions
    // ---------------------------------------------------------------------------------------------

    function _fill(Offer calldata o, bytes calldata signature, Permit memory permit) private returns (bytes32 id) {
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
        t.arbiterFeeBps = o.arbiterFeeBps;
        t.platformFeeBps = o.platformFeeBps;
        t.releaseWindow = o.releaseWindow;
        t.arbitrationWindow = o.arbitrationWindow;
        t.flags = o.flags | FLAG_CREATED_BY_SELLER;
        t.termsHash = o.termsHash;
        t.salt = o.nonce;
        id = _openFunded(t, permit);
        emit OfferFilled(o.seller, o.nonce, id);
    }

    /// @dev Creates a trade already funded by `t.buyer` (the caller). Effects before interactions: the
    /// slot is written with the requested amount before tokens are pulled, and corrected only if a
    /// fee-on-transfer token delivered less.
    function _openFunded(Terms memory t, Permit memory permit) private returns (bytes32 id) {
        _checkTerms(t);
        _checkValue(t);
        id = tradeId(t);
        if (_escrows[id].state != State.None) revert TradeExists(id);
        uint40 deadline = uint40(block.timestamp + t.releaseWindow);
        _escrows[id] = Escrow({held: t.amount, deadline: deadline, state: State.Funded, marks: 0, settlementBps: 0});
        uint256 held = t.amount;
        if (t.token != address(0)) held = _pullTokens(id, t.token, t.buyer, t.amount, permit);
        emit TradeCreated(id, t.buyer, t.seller, t, held, deadline);
    }

    /// @dev Pulls `amount` of `token` from `from` and credits the trade with what really arrived.
    /// nonReentrant: the balance-difference measurement must not be disturbed by a re-entrant token.
    function _pullTokens(bytes32 id, address token, address from, uint256 amount, Permit memory permit)
        private
        nonReentrant
        returns (uint256 arrived)
    {
        if (permit.deadline != 0) {
            // A failed permit (front-run, or a token without EIP-2612) is not fatal: an existing
            // allowance may still cover the transfer, and transferFrom reports if it does not.
            try IERC20Permit(token).permit(from, address(this), amount, permit.deadline, permit.v, permit.r, permit.s) {}
                catch {}
        }
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(from, address(this), amount);
        arrived = IERC20(token).balanceOf(address(this)) - before;
        if (arrived != amount) {
            if (arrived == 0) revert NothingArrived(token);
            if (arrived > type(uint128).max) revert AmountTooLarge(arrived);
            _escrows[id].held = uint128(arrived);
        }
    }

    /// @dev Pays `gross` to the seller less the platform fee, which accrues for `withdrawFees`.
    function _paySeller(Terms calldata t, uint256 gross) private returns (uint256 toSeller, uint256 fee) {
        fee = _bps(gross, t.platformFeeBps);
        toSeller = gross - fee;
        if (fee != 0) feesAccrued[t.token] += fee;
        _pay(t.token, t.seller, toSeller);
    }

    /// @dev Delivers a payout, or credits it if the receiver rejects it, so that no receiver can block
    /// a trade's transition.
    function _pay(address token, address to, uint256 amount) private {
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
            emit PaymentCredited(to, token, amount);
        }
    }

    /// @dev Sends credits or fees; unlike `_pay`, a failure reverts (the caller chose the receiver).
    function _send(address token, address to, uint256 amount) private {
        if (token == address(0)) {
            (bool ok,) = to.call{value: amount}("");
            if (!ok) revert WithdrawFailed(to);
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
    }

    /// @dev Marks a trade paid out: nothing left held, terminal state, seller-paid mark if it got any.
    function _close(Escrow memory e, bytes32 id, State state, uint256 sellerGross) private {
        e.held = 0;
        e.state = state;
        if (sellerGross != 0) e.marks |= MARK_SELLER_PAID;
        _escrows[id] = e;
    }

    /// @dev Reports a trade's end to the reputation contract, if the trade records reputation. The
    /// call gets a fixed gas budget that the caller must provide: starving it on purpose (to dodge a
    /// bad record) reverts the whole transaction, while a genuine failure (this escrow de-authorised)
    /// is skipped so that recording can never block a payout.
    function _recordOutcome(Terms calldata t, bytes32 id, IReputation.Outcome outcome) private {
        if (t.flags & FLAG_RECORD_REPUTATION == 0) return;
        if (gasleft() < REPUTATION_GAS + REPUTATION_GAS / 63 + 5_000) revert InsufficientGas(gasleft());
        try reputation.recordOutcome{gas: REPUTATION_GAS}(id, t.buyer, t.seller, outcome) {} catch {}
    }

    function _load(Terms calldata t) private view returns (bytes32 id, Escrow memory e) {
        id = tradeId(t);
        e = _escrows[id];
        if (e.state == State.None) revert UnknownTrade(id);
    }

    /// @dev Returns `buyerMark` if the caller is the buyer, `sellerMark` if the seller; reverts otherwise.
    function _partyMark(Terms calldata t, bytes32 id, uint8 buyerMark, uint8 sellerMark)
        private
        view
        returns (uint8)
    {
        if (msg.sender == t.buyer) return buyerMark;
        if (msg.sender == t.seller) return sellerMark;
        revert Unauthorized(msg.sender, id);
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
        uint256 expected = t.token == address(0) ? t.amount : 0;
        if (msg.value != expected) revert WrongValue(msg.value, expected);
    }

    function _useNonce(address seller, uint256 nonce) private {
        uint256 bit = 1 << (nonce & 0xff);
        uint256 word = _nonceBitmap[seller][nonce >> 8];
        if (word & bit != 0) revert NonceUsed(seller, nonce);
        _nonceBitmap[seller][nonce >> 8] = word | bit;
    }

    function _noPermit() private pure returns (Permit memory p) {}

    function _bps(uint256 amount, uint16 bps) private pure returns (uint256) {
        return amount * bps / BPS;
    }
}
