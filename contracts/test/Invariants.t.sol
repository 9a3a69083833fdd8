// SPDX-License-Identifier: MIT
// Invariant tests: a handler drives the registry and the depository through random
// sequences of mints, reserve transfers, funding, signed settlements, disputes (newer and
// stale proofs), finalizations, forged calls and block advances. After every call:
// reserves + collateral equal what was minted, per token; recorded debts equal an
// independent model of the dispute split; account nonces never fall and a running dispute
// is always newer than the account's nonce; no forged or stale call was ever accepted; and
// every refusal carried a reason.
pragma solidity 0.8.30;

import {EntityRegistry, EntitySignature} from "../src/EntityRegistry.sol";
import {Depository, SettlementDiff, AccountProof} from "../src/Depository.sol";
import {Asserts, Fixture} from "./Base.sol";

contract Handler is Fixture {
    uint256 internal constant ENTITIES = 3;
    uint256 internal constant TOKENS = 2;
    mapping(uint256 => uint256) public minted;
    mapping(uint256 => uint256) public expectedDebt;
    mapping(bytes32 => uint256) public lastNonce;
    mapping(bytes32 => mapping(uint256 => bool)) internal touched;
    mapping(bytes32 => mapping(uint256 => int256)) internal disputedOffdelta;
    bool public forgeryAccepted;
    bool public staleAccepted;
    bool public refusalWithoutReason;
    bool public nonceFell;
    uint256 public calls;
    uint256 public refusals;
    /// Accepted settlements, dispute starts and finalizations (the sequences must reach them).
    uint256 public accepted;

    constructor() {
        deploy();
        register(11, 3, 2);
        register(12, 1, 1);
        register(13, 2, 2);
    }

    function depository() external view returns (Depository) {
        return depo;
    }

    function pair(uint256 seed) internal pure returns (uint256 l, uint256 r) {
        uint256 p = seed % 3;
        if (p == 0) return (1, 2);
        if (p == 1) return (1, 3);
        return (2, 3);
    }

    function token(uint256 seed) internal pure returns (uint256) {
        return seed % TOKENS + 1;
    }

    function refused(bytes memory reason) internal {
        refusals++;
        if (reason.length < 4) refusalWithoutReason = true;
    }

    function afterCall(uint256 l, uint256 r) internal {
        calls++;
        bytes32 key = depo.accountKey(l, r);
        uint256 n = depo.accountNonceOf(l, r);
        if (n < lastNonce[key]) nonceFell = true;
        lastNonce[key] = n;
    }

    // ---- actions ----------------------------------------------------------------------

    function mint(uint256 entity, uint256 t, uint40 amount) external {
        entity = entity % ENTITIES + 1;
        t = token(t);
        depo.mintReserve(entity, t, amount);
        minted[t] += amount;
        calls++;
    }

    function transfer(uint256 from, uint256 to, uint256 t, uint32 amount) external {
        from = from % ENTITIES + 1;
        to = to % ENTITIES + 1;
        t = token(t);
        EntitySignature memory sig = authSig(from, r2rOp(to, t, amount));
        try depo.reserveToReserve(from, to, t, amount, sig) {} catch (bytes memory reason) {
            refused(reason);
        }
        calls++;
    }

    function fundAccount(uint256 p, bool fromLeft, uint256 t, uint32 amount) external {
        (uint256 l, uint256 r) = pair(p);
        t = token(t);
        (uint256 e, uint256 peer) = fromLeft ? (l, r) : (r, l);
        EntitySignature memory sig = authSig(e, r2cOp(peer, t, amount));
        try depo.reserveToCollateral(e, peer, t, amount, sig) {
            touched[depo.accountKey(l, r)][t] = true;
        } catch (bytes memory reason) {
            refused(reason);
        }
        afterCall(l, r);
    }

    function settle(uint256 p, uint256 t, int32 lr, int32 rr, int32 od, uint8 nonceBack) external {
        (uint256 l, uint256 r) = pair(p);
        t = token(t);
        SettlementDiff[] memory d = new SettlementDiff[](1);
        d[0] = SettlementDiff(t, lr, rr, -(int256(lr) + int256(rr)), od);
        uint256 current = depo.accountNonceOf(l, r);
        bool stale = nonceBack % 4 == 0 && current > 0;
        uint256 nonce = stale ? current - nonceBack % (current + 1) : current + 1;
        bytes32 digest = depo.settlementDigest(l, r, nonce, d);
        try depo.settle(l, r, nonce, d, signAll(l, digest), signAll(r, digest)) {
            if (stale) staleAccepted = true;
            touched[depo.accountKey(l, r)][t] = true;
            accepted++;
        } catch (bytes memory reason) {
            refused(reason);
        }
        afterCall(l, r);
    }

    /// A settlement signed by one side only (the other's slot carries the first side's
    /// board and signatures): must always be refused.
    function forgedSettle(uint256 p, uint256 t, int64 lr) external {
        (uint256 l, uint256 r) = pair(p);
        SettlementDiff[] memory d = new SettlementDiff[](1);
        d[0] = SettlementDiff(token(t), lr, 0, -int256(lr), 0);
        uint256 nonce = depo.accountNonceOf(l, r) + 1;
        bytes32 digest = depo.settlementDigest(l, r, nonce, d);
        EntitySignature memory ls = signAll(l, digest);
        try depo.settle(l, r, nonce, d, ls, ls) {
            forgeryAccepted = true;
        } catch (bytes memory reason) {
            refused(reason);
        }
        afterCall(l, r);
    }

    function dispute(uint256 p, uint256 t, int40 offdelta, uint8 bump, bool stale) external {
        (uint256 l, uint256 r) = pair(p);
        t = token(t);
        bytes32 key = depo.accountKey(l, r);
        (uint256 running, uint256 deadline,) = depo.disputeOf(l, r);
        uint256 floor = deadline != 0 ? running : depo.accountNonceOf(l, r);
        uint256 nonce = stale ? floor - (bump % (floor + 1)) : floor + 1 + bump % 3;
        AccountProof memory proof = proof1(nonce, t, offdelta);
        bytes32 digest = depo.proofDigest(l, r, proof);
        try depo.disputeStart(l, r, l, proof, signAll(l, digest), signAll(r, digest)) {
            if (stale) staleAccepted = true;
            touched[key][t] = true;
            for (uint256 i = 1; i <= TOKENS; i++) disputedOffdelta[key][i] = 0;
            disputedOffdelta[key][t] = offdelta;
            accepted++;
        } catch (bytes memory reason) {
            refused(reason);
        }
        afterCall(l, r);
    }

    function finalize(uint256 p) external {
        (uint256 l, uint256 r) = pair(p);
        bytes32 key = depo.accountKey(l, r);
        uint256[TOKENS + 1] memory owedUnpaid;
        for (uint256 t = 1; t <= TOKENS; t++) {
            if (!touched[key][t]) continue;
            (uint256 c, int256 ondelta) = depo.collateralOf(l, r, t);
            int256 delta = ondelta + disputedOffdelta[key][t];
            (uint256 debtor, uint256 owed) = delta <= 0
                ? (l, uint256(-delta))
                : (r, uint256(delta) > c ? uint256(delta) - c : 0);
            uint256 have = depo.reserves(debtor, t);
            owedUnpaid[t] = owed > have ? owed - have : 0;
        }
        try depo.disputeFinalize(l, r) {
            for (uint256 t = 1; t <= TOKENS; t++) {
                expectedDebt[t] += owedUnpaid[t];
                disputedOffdelta[key][t] = 0;
            }
            accepted++;
        } catch (bytes memory reason) {
            refused(reason);
        }
        afterCall(l, r);
    }

    function advance(uint8 blocks) external {
        vm.roll(block.number + blocks % (2 * TIMEOUT));
        calls++;
    }

    // ---- views for the invariants -----------------------------------------------------

    function totalValue(uint256 t) external view returns (uint256 sum) {
        for (uint256 e = 1; e <= ENTITIES; e++) sum += depo.reserves(e, t);
        for (uint256 p = 0; p < 3; p++) {
            (uint256 l, uint256 r) = pair(p);
            (uint256 c,) = depo.collateralOf(l, r, t);
            sum += c;
        }
    }

    function totalDebt(uint256 t) external view returns (uint256 sum) {
        for (uint256 a = 1; a <= ENTITIES; a++) {
            for (uint256 b = 1; b <= ENTITIES; b++) sum += depo.debts(a, b, t);
        }
    }

    function disputesNewerThanNonces() external view returns (bool) {
        for (uint256 p = 0; p < 3; p++) {
            (uint256 l, uint256 r) = pair(p);
            (uint256 n, uint256 deadline,) = depo.disputeOf(l, r);
            if (deadline != 0 && n <= depo.accountNonceOf(l, r)) return false;
        }
        return true;
    }
}

contract InvariantsTest is Asserts {
    Handler internal handler;

    function setUp() public {
        handler = new Handler();
    }

    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    /// The handler's actions do reach the protocol: a fixed sequence settles, disputes and
    /// finalizes (so the invariants are not checked over refusals only).
    function test_handler_reaches_settlement_and_disputes() public {
        handler.mint(0, 0, 1_000_000);
        handler.mint(1, 0, 1_000_000);
        handler.fundAccount(0, true, 0, 5000);
        handler.fundAccount(0, false, 0, 3000);
        handler.settle(0, 0, 100, 200, -50, 1);
        handler.dispute(0, 0, -9000, 0, false);
        handler.dispute(0, 0, 7000, 1, false);
        handler.advance(19);
        handler.finalize(0);
        eq(handler.accepted(), 4, "accepted settlements, disputes and finalizations");
        invariant_value_is_conserved_per_token();
        invariant_recorded_debts_match_the_split_rule();
    }

    function invariant_value_is_conserved_per_token() public view {
        for (uint256 t = 1; t <= 2; t++) eq(handler.totalValue(t), handler.minted(t), "reserves + collateral = minted");
    }

    function invariant_recorded_debts_match_the_split_rule() public view {
        for (uint256 t = 1; t <= 2; t++) eq(handler.totalDebt(t), handler.expectedDebt(t), "recorded debts");
    }

    function invariant_no_forged_or_stale_call_accepted() public view {
        check(!handler.forgeryAccepted(), "a settlement signed by one side was accepted");
        check(!handler.staleAccepted(), "a stale settlement or proof was accepted");
    }

    function invariant_nonces_never_fall_and_disputes_are_newer() public view {
        check(!handler.nonceFell(), "an account nonce fell");
        check(handler.disputesNewerThanNonces(), "a running dispute is not newer than the account nonce");
    }

    function invariant_every_refusal_has_a_reason() public view {
        check(!handler.refusalWithoutReason(), "a call reverted without a reason");
    }
}
