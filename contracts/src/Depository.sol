// SPDX-License-Identifier: MIT
// Depository: per-entity per-token reserves, collateral of bilateral accounts, cooperative
// settlement signed by both entities, and disputes decided by the highest-nonce proof.
pragma solidity 0.8.30;

import {EntityRegistry, EntitySignature} from "./EntityRegistry.sol";

/// One token's change in a cooperative settlement. The three value moves sum to zero;
/// ondeltaDiff moves the left's balance in the account.
struct SettlementDiff {
    uint256 token;
    int256 leftReserveDiff;
    int256 rightReserveDiff;
    int256 collateralDiff;
    int256 ondeltaDiff;
}

/// A signed account state for disputes: the off-chain deltas per token at `nonce`.
struct AccountProof {
    uint256 nonce;
    uint256[] tokens;
    int256[] offdeltas;
}

contract Depository {
    bytes32 public constant AUTH_TAG = keccak256("xln/depository/entity-op/v1");
    bytes32 public constant SETTLE_TAG = keccak256("xln/depository/settlement/v1");
    bytes32 public constant PROOF_TAG = keccak256("xln/depository/account-proof/v1");
    uint256 public constant MAX_TOKENS_PER_CALL = 64;
    /// Bounds the tokens one account may ever touch (dispute finalization loops over them).
    uint256 public constant MAX_ACCOUNT_TOKENS = 256;

    struct Collateral {
        uint256 collateral;
        int256 ondelta;
    }

    struct Dispute {
        uint256 nonce;
        uint256 deadline;
        uint256 startedBy;
        uint256[] tokens;
        int256[] offdeltas;
    }

    EntityRegistry public immutable registry;
    uint256 public immutable disputeTimeoutBlocks;
    address public immutable admin;

    mapping(uint256 => mapping(uint256 => uint256)) public reserves;
    /// Entity-authorized operations carry the next nonce of that entity (replay guard).
    mapping(uint256 => uint256) public entityNonce;
    /// Keyed by keccak256(abi.encode(left, right)).
    mapping(bytes32 => mapping(uint256 => Collateral)) public collaterals;
    mapping(bytes32 => uint256) public accountNonce;
    mapping(bytes32 => uint256[]) internal accountTokenList;
    mapping(bytes32 => mapping(uint256 => bool)) internal accountTokenKnown;
    mapping(bytes32 => Dispute) internal disputes;
    /// debts[debtor][creditor][token]: what a dispute left unpaid by the debtor's reserve.
    mapping(uint256 => mapping(uint256 => mapping(uint256 => uint256))) public debts;

    event ReserveUpdated(uint256 indexed entity, uint256 indexed token, uint256 newBalance);
    event CollateralUpdated(
        uint256 indexed left, uint256 indexed right, uint256 indexed token,
        uint256 collateral, int256 ondelta
    );
    event Settled(uint256 indexed left, uint256 indexed right, uint256 nonce);
    event DisputeStarted(uint256 indexed left, uint256 indexed right, uint256 nonce, uint256 deadline);
    event DisputeFinalized(uint256 indexed left, uint256 indexed right, uint256 nonce);
    event DebtRecorded(uint256 indexed debtor, uint256 indexed creditor, uint256 indexed token, uint256 amount);

    error NotAdmin();
    error BadAccount(uint256 left, uint256 right);
    error BadAmount();
    error InsufficientReserve(uint256 entity, uint256 token, uint256 have, uint256 need);
    error StaleNonce(uint256 given, uint256 required);
    error DisputeActive();
    error NoDispute();
    error DisputeNotExpired(uint256 deadline);
    error DisputeExpired(uint256 deadline);
    error BadDiff(uint256 index, string reason);
    error BadProof(string reason);
    error TooManyTokens();

    constructor(EntityRegistry registry_, uint256 disputeTimeoutBlocks_) {
        registry = registry_;
        disputeTimeoutBlocks = disputeTimeoutBlocks_;
        admin = msg.sender;
    }

    // ---- reserves --------------------------------------------------------------------

    /// The development faucet: credits a registered entity's reserve. There is no token
    /// bridge; the deployer plays the mint.
    function mintReserve(uint256 entity, uint256 token, uint256 amount) external {
        if (msg.sender != admin) revert NotAdmin();
        if (registry.boardHash(entity) == bytes32(0)) {
            revert EntityRegistry.UnknownEntity(entity);
        }
        _credit(entity, token, amount);
    }

    /// Moves `amount` of `token` from one entity's reserve to another's, authorized by the
    /// sender entity's board over (AUTH_TAG, chain, this, "r2r", from, nonce, to, token, amount).
    function reserveToReserve(
        uint256 from, uint256 to, uint256 token, uint256 amount, EntitySignature calldata sig
    ) external {
        if (registry.boardHash(to) == bytes32(0)) revert EntityRegistry.UnknownEntity(to);
        if (from == to || amount == 0) revert BadAmount();
        _authorize(from, keccak256(abi.encode("r2r", to, token, amount)), sig);
        _debit(from, token, amount);
        _credit(to, token, amount);
    }

    /// Funds the account (entity, peer) with `amount` of the entity's reserve. Collateral
    /// from the left raises ondelta by the same amount (that collateral is the left's).
    function reserveToCollateral(
        uint256 entity, uint256 peer, uint256 token, uint256 amount, EntitySignature calldata sig
    ) external {
        if (registry.boardHash(peer) == bytes32(0)) revert EntityRegistry.UnknownEntity(peer);
        if (entity == peer || amount == 0 || amount > uint256(type(int256).max)) revert BadAmount();
        (uint256 left, uint256 right) = entity < peer ? (entity, peer) : (peer, entity);
        bytes32 key = accountKey(left, right);
        if (disputes[key].deadline != 0) revert DisputeActive();
        _authorize(entity, keccak256(abi.encode("r2c", peer, token, amount)), sig);
        _debit(entity, token, amount);
        Collateral storage c = collaterals[key][token];
        c.collateral += amount;
        if (entity == left) c.ondelta += int256(amount);
        _noteToken(key, token);
        emit CollateralUpdated(left, right, token, c.collateral, c.ondelta);
    }

    // ---- cooperative settlement ------------------------------------------------------

    function settlementDigest(uint256 left, uint256 right, uint256 nonce, SettlementDiff[] calldata diffs)
        public view returns (bytes32)
    {
        return keccak256(abi.encode(SETTLE_TAG, block.chainid, address(this), left, right, nonce, diffs));
    }

    /// Applies diffs both entities signed. Every rule is checked before anything changes.
    function settle(
        uint256 left, uint256 right, uint256 nonce, SettlementDiff[] calldata diffs,
        EntitySignature calldata leftSig, EntitySignature calldata rightSig
    ) external {
        bytes32 key = _checkAccount(left, right);
        if (disputes[key].deadline != 0) revert DisputeActive();
        if (nonce <= accountNonce[key]) revert StaleNonce(nonce, accountNonce[key] + 1);
        if (diffs.length > MAX_TOKENS_PER_CALL) revert TooManyTokens();
        bytes32 digest = settlementDigest(left, right, nonce, diffs);
        registry.verifyEntity(left, digest, leftSig);
        registry.verifyEntity(right, digest, rightSig);
        for (uint256 i = 0; i < diffs.length; i++) _checkDiff(key, left, right, diffs, i);
        accountNonce[key] = nonce;
        for (uint256 i = 0; i < diffs.length; i++) _applyDiff(key, left, right, diffs[i]);
        emit Settled(left, right, nonce);
    }

    function _checkDiff(bytes32 key, uint256 left, uint256 right, SettlementDiff[] calldata diffs, uint256 i)
        internal view
    {
        SettlementDiff calldata d = diffs[i];
        if (i > 0 && d.token <= diffs[i - 1].token) revert BadDiff(i, "tokens not strictly increasing");
        int256 lr = d.leftReserveDiff;
        int256 rr = d.rightReserveDiff;
        int256 cd = d.collateralDiff;
        // Bounded so the sum below cannot overflow (checked arithmetic would revert anyway).
        int256 bound = type(int256).max / 4;
        if (lr > bound || lr < -bound || rr > bound || rr < -bound || cd > bound || cd < -bound) {
            revert BadDiff(i, "value out of range");
        }
        if (d.ondeltaDiff > bound || d.ondeltaDiff < -bound) revert BadDiff(i, "ondelta out of range");
        if (lr + rr + cd != 0) revert BadDiff(i, "does not sum to zero");
        if (lr < 0 && reserves[left][d.token] < uint256(-lr)) revert BadDiff(i, "left reserve too low");
        if (rr < 0 && reserves[right][d.token] < uint256(-rr)) revert BadDiff(i, "right reserve too low");
        Collateral storage c = collaterals[key][d.token];
        if (cd < 0 && c.collateral < uint256(-cd)) revert BadDiff(i, "collateral too low");
        int256 od = c.ondelta + d.ondeltaDiff;
        if (od > bound || od < -bound) revert BadDiff(i, "ondelta out of range");
    }

    function _applyDiff(bytes32 key, uint256 left, uint256 right, SettlementDiff calldata d) internal {
        if (d.leftReserveDiff > 0) _credit(left, d.token, uint256(d.leftReserveDiff));
        if (d.leftReserveDiff < 0) _debit(left, d.token, uint256(-d.leftReserveDiff));
        if (d.rightReserveDiff > 0) _credit(right, d.token, uint256(d.rightReserveDiff));
        if (d.rightReserveDiff < 0) _debit(right, d.token, uint256(-d.rightReserveDiff));
        Collateral storage c = collaterals[key][d.token];
        if (d.collateralDiff >= 0) c.collateral += uint256(d.collateralDiff);
        else c.collateral -= uint256(-d.collateralDiff);
        c.ondelta += d.ondeltaDiff;
        _noteToken(key, d.token);
        emit CollateralUpdated(left, right, d.token, c.collateral, c.ondelta);
    }

    // ---- disputes --------------------------------------------------------------------

    function proofDigest(uint256 left, uint256 right, AccountProof calldata proof)
        public view returns (bytes32)
    {
        return keccak256(abi.encode(
            PROOF_TAG, block.chainid, address(this), left, right, proof.nonce, proof.tokens, proof.offdeltas
        ));
    }

    /// Starts a dispute with a proof both entities signed, or overrides the running one
    /// with a proof of a higher nonce (the deadline stays: a dispute cannot be prolonged).
    /// Anyone holding the proof may submit it; `startedBy` (left or right) is recorded
    /// for the entities' information only, since both signed the proof.
    function disputeStart(
        uint256 left, uint256 right, uint256 startedBy, AccountProof calldata proof,
        EntitySignature calldata leftSig, EntitySignature calldata rightSig
    ) external {
        bytes32 key = _checkAccount(left, right);
        if (startedBy != left && startedBy != right) revert BadAccount(left, right);
        Dispute storage d = disputes[key];
        uint256 floor = d.deadline != 0 ? d.nonce : accountNonce[key];
        if (proof.nonce <= floor) revert StaleNonce(proof.nonce, floor + 1);
        if (d.deadline != 0 && block.number >= d.deadline) revert DisputeExpired(d.deadline);
        _checkProofShape(proof);
        bytes32 digest = proofDigest(left, right, proof);
        registry.verifyEntity(left, digest, leftSig);
        registry.verifyEntity(right, digest, rightSig);
        if (d.deadline == 0) {
            d.deadline = block.number + disputeTimeoutBlocks;
            d.startedBy = startedBy;
        }
        d.nonce = proof.nonce;
        d.tokens = proof.tokens;
        d.offdeltas = proof.offdeltas;
        for (uint256 i = 0; i < proof.tokens.length; i++) _noteToken(key, proof.tokens[i]);
        emit DisputeStarted(left, right, proof.nonce, d.deadline);
    }

    function _checkProofShape(AccountProof calldata proof) internal pure {
        uint256 n = proof.tokens.length;
        if (n != proof.offdeltas.length) revert BadProof("tokens and offdeltas differ in length");
        if (n > MAX_TOKENS_PER_CALL) revert TooManyTokens();
        int256 bound = type(int256).max / 4;
        for (uint256 i = 0; i < n; i++) {
            if (i > 0 && proof.tokens[i] <= proof.tokens[i - 1]) revert BadProof("tokens not strictly increasing");
            if (proof.offdeltas[i] > bound || proof.offdeltas[i] < -bound) revert BadProof("offdelta out of range");
        }
    }

    /// After the deadline anyone may finalize: per token, Δ = ondelta + offdelta splits the
    /// collateral C (Δ ≤ 0: right takes C, left owes −Δ; 0 < Δ < C: left takes Δ, right
    /// C − Δ; Δ ≥ C: left takes C, right owes Δ − C). Debts are paid from the debtor's
    /// reserve first; the rest is recorded.
    function disputeFinalize(uint256 left, uint256 right) external {
        bytes32 key = _checkAccount(left, right);
        Dispute storage d = disputes[key];
        if (d.deadline == 0) revert NoDispute();
        if (block.number < d.deadline) revert DisputeNotExpired(d.deadline);
        uint256[] storage tokens = accountTokenList[key];
        for (uint256 i = 0; i < tokens.length; i++) {
            _splitToken(key, left, right, tokens[i], _offdeltaOf(d, tokens[i]));
        }
        uint256 nonce = d.nonce;
        accountNonce[key] = nonce;
        delete disputes[key];
        emit DisputeFinalized(left, right, nonce);
    }

    function _offdeltaOf(Dispute storage d, uint256 token) internal view returns (int256) {
        for (uint256 i = 0; i < d.tokens.length; i++) {
            if (d.tokens[i] == token) return d.offdeltas[i];
        }
        return 0;
    }

    function _splitToken(bytes32 key, uint256 left, uint256 right, uint256 token, int256 offdelta) internal {
        Collateral storage c = collaterals[key][token];
        uint256 cap = c.collateral;
        int256 delta = c.ondelta + offdelta;
        if (delta <= 0) {
            _credit(right, token, cap);
            _payDebt(left, right, token, uint256(-delta));
        } else if (uint256(delta) < cap) {
            _credit(left, token, uint256(delta));
            _credit(right, token, cap - uint256(delta));
        } else {
            _credit(left, token, cap);
            _payDebt(right, left, token, uint256(delta) - cap);
        }
        c.collateral = 0;
        c.ondelta = 0;
        emit CollateralUpdated(left, right, token, 0, 0);
    }

    function _payDebt(uint256 debtor, uint256 creditor, uint256 token, uint256 amount) internal {
        if (amount == 0) return;
        uint256 have = reserves[debtor][token];
        uint256 paid = have < amount ? have : amount;
        if (paid > 0) {
            _debit(debtor, token, paid);
            _credit(creditor, token, paid);
        }
        if (amount > paid) {
            debts[debtor][creditor][token] += amount - paid;
            emit DebtRecorded(debtor, creditor, token, amount - paid);
        }
    }

    // ---- views and helpers -----------------------------------------------------------

    function accountKey(uint256 left, uint256 right) public pure returns (bytes32) {
        return keccak256(abi.encode(left, right));
    }

    function disputeOf(uint256 left, uint256 right)
        external view returns (uint256 nonce, uint256 deadline, uint256 startedBy)
    {
        Dispute storage d = disputes[accountKey(left, right)];
        return (d.nonce, d.deadline, d.startedBy);
    }

    function collateralOf(uint256 left, uint256 right, uint256 token)
        external view returns (uint256 collateral, int256 ondelta)
    {
        Collateral storage c = collaterals[accountKey(left, right)][token];
        return (c.collateral, c.ondelta);
    }

    function accountNonceOf(uint256 left, uint256 right) external view returns (uint256) {
        return accountNonce[accountKey(left, right)];
    }

    function authDigest(uint256 entity, uint256 nonce, bytes32 op) public view returns (bytes32) {
        return keccak256(abi.encode(AUTH_TAG, block.chainid, address(this), entity, nonce, op));
    }

    function _authorize(uint256 entity, bytes32 op, EntitySignature calldata sig) internal {
        uint256 nonce = entityNonce[entity] + 1;
        registry.verifyEntity(entity, authDigest(entity, nonce, op), sig);
        entityNonce[entity] = nonce;
    }

    function _checkAccount(uint256 left, uint256 right) internal view returns (bytes32) {
        if (left == 0 || left >= right) revert BadAccount(left, right);
        if (registry.boardHash(left) == bytes32(0) || registry.boardHash(right) == bytes32(0)) {
            revert BadAccount(left, right);
        }
        return accountKey(left, right);
    }

    function _noteToken(bytes32 key, uint256 token) internal {
        if (!accountTokenKnown[key][token]) {
            if (accountTokenList[key].length >= MAX_ACCOUNT_TOKENS) revert TooManyTokens();
            accountTokenKnown[key][token] = true;
            accountTokenList[key].push(token);
        }
    }

    function _credit(uint256 entity, uint256 token, uint256 amount) internal {
        if (amount == 0) return;
        uint256 b = reserves[entity][token] + amount;
        reserves[entity][token] = b;
        emit ReserveUpdated(entity, token, b);
    }

    function _debit(uint256 entity, uint256 token, uint256 amount) internal {
        uint256 have = reserves[entity][token];
        if (have < amount) revert InsufficientReserve(entity, token, have, amount);
        reserves[entity][token] = have - amount;
        emit ReserveUpdated(entity, token, have - amount);
    }
}
