// SPDX-License-Identifier: MIT
// Depository: reserves, funding, cooperative settlement and disputes, each rule and each
// refusal with its reason; fuzzed settlement and dispute splits against a model.
pragma solidity 0.8.30;

import {EntityRegistry, EntitySignature} from "../src/EntityRegistry.sol";
import {Depository, SettlementDiff, AccountProof} from "../src/Depository.sol";
import {Fixture} from "./Base.sol";

contract DepositoryTest is Fixture {
    uint256 internal left;
    uint256 internal right;
    uint256 internal constant T = 7;
    /// Read in setUp and kept in storage: the optimizer treats `block.chainid` as constant
    /// within one call, so a value read after `vm.chainId` could be the changed one.
    uint256 internal homeChain;

    function setUp() public {
        deploy();
        homeChain = block.chainid;
        left = register(1, 3, 2);
        right = register(2, 1, 1);
        depo.mintReserve(left, T, 1000);
        depo.mintReserve(right, T, 500);
    }

    function diff1(int256 lr, int256 rr, int256 cd, int256 od) internal pure returns (SettlementDiff[] memory d) {
        d = new SettlementDiff[](1);
        d[0] = SettlementDiff(T, lr, rr, cd, od);
    }

    // ---- reserves ---------------------------------------------------------------------

    function test_only_admin_mints_and_only_for_registered_entities() public {
        vm.prank(address(0xBEEF));
        vm.expectRevert(Depository.NotAdmin.selector);
        depo.mintReserve(left, T, 1);
        vm.expectRevert(abi.encodeWithSelector(EntityRegistry.UnknownEntity.selector, 42));
        depo.mintReserve(42, T, 1);
    }

    function test_reserve_transfer_needs_the_sender_board_and_is_not_replayable() public {
        EntitySignature memory sig = authSig(left, r2rOp(right, T, 100));
        depo.reserveToReserve(left, right, T, 100, sig);
        eq(depo.reserves(left, T), 900, "left reserve");
        eq(depo.reserves(right, T), 600, "right reserve");
        // The same signature again: the entity nonce moved on, so it no longer verifies.
        vm.expectRevert(abi.encodeWithSelector(EntityRegistry.BadSignature.selector, 0, "not the validator's"));
        depo.reserveToReserve(left, right, T, 100, sig);
        // Signed by the receiver instead of the sender.
        EntitySignature memory wrong = authSig(right, r2rOp(right, T, 1));
        vm.expectRevert(abi.encodeWithSelector(EntityRegistry.BoardMismatch.selector, left));
        depo.reserveToReserve(left, right, T, 1, wrong);
        EntitySignature memory big = authSig(left, r2rOp(right, T, 5000));
        vm.expectRevert(abi.encodeWithSelector(Depository.InsufficientReserve.selector, left, T, 900, 5000));
        depo.reserveToReserve(left, right, T, 5000, big);
        vm.expectRevert(Depository.BadAmount.selector);
        depo.reserveToReserve(left, left, T, 1, sig);
    }

    function test_funding_from_the_left_raises_ondelta() public {
        fund(left, right, T, 300);
        fund(right, left, T, 200);
        (uint256 c, int256 od) = depo.collateralOf(left, right, T);
        eq(c, 500, "collateral");
        eqInt(od, 300, "ondelta: only the left's collateral counts");
        eq(depo.reserves(left, T) + depo.reserves(right, T) + c, 1500, "value conserved");
    }

    // ---- settlement -------------------------------------------------------------------

    function test_settlement_applies_only_with_both_signatures() public {
        fund(left, right, T, 400);
        SettlementDiff[] memory d = diff1(100, 0, -100, -100);
        bytes32 digest = depo.settlementDigest(left, right, 1, d);
        EntitySignature memory ls = signAll(left, digest);
        EntitySignature memory rs = signAll(right, digest);
        EntitySignature memory half = signAs(left, digest, 1);
        vm.expectRevert(abi.encodeWithSelector(EntityRegistry.BelowThreshold.selector, 1, 2));
        depo.settle(left, right, 1, d, half, rs);
        EntitySignature memory otherDigest = signAll(right, keccak256("x"));
        vm.expectRevert(abi.encodeWithSelector(EntityRegistry.BadSignature.selector, 0, "not the validator's"));
        depo.settle(left, right, 1, d, ls, otherDigest);
        depo.settle(left, right, 1, d, ls, rs);
        eq(depo.accountNonceOf(left, right), 1, "nonce");
        (uint256 c,) = depo.collateralOf(left, right, T);
        eq(c, 300, "collateral");
        // The same settlement again is stale.
        vm.expectRevert(abi.encodeWithSelector(Depository.StaleNonce.selector, 1, 2));
        depo.settle(left, right, 1, d, ls, rs);
    }

    function test_settlement_refusals_have_reasons() public {
        fund(left, right, T, 100);
        expectSettleRevert(diff1(1, 0, 0, 0), abi.encodeWithSelector(Depository.BadDiff.selector, 0, "does not sum to zero"));
        expectSettleRevert(diff1(100, 100, -200, 0), abi.encodeWithSelector(Depository.BadDiff.selector, 0, "collateral too low"));
        expectSettleRevert(diff1(-2000, 2000, 0, 0), abi.encodeWithSelector(Depository.BadDiff.selector, 0, "left reserve too low"));
        expectSettleRevert(diff1(type(int256).max, 0, 0, 0), abi.encodeWithSelector(Depository.BadDiff.selector, 0, "value out of range"));
        SettlementDiff[] memory two = new SettlementDiff[](2);
        two[0] = SettlementDiff(T, 0, 0, 0, 0);
        two[1] = SettlementDiff(T, 0, 0, 0, 0);
        expectSettleRevert(two, abi.encodeWithSelector(Depository.BadDiff.selector, 1, "tokens not strictly increasing"));
        SettlementDiff[] memory d = diff1(0, 0, 0, 0);
        bytes32 digest = depo.settlementDigest(right, left, 1, d);
        EntitySignature memory a = signAll(right, digest);
        EntitySignature memory b = signAll(left, digest);
        vm.expectRevert(abi.encodeWithSelector(Depository.BadAccount.selector, right, left));
        depo.settle(right, left, 1, d, a, b);
    }

    function expectSettleRevert(SettlementDiff[] memory d, bytes memory reason) internal {
        bytes32 digest = depo.settlementDigest(left, right, 1, d);
        EntitySignature memory ls = signAll(left, digest);
        EntitySignature memory rs = signAll(right, digest);
        vm.expectRevert(reason);
        depo.settle(left, right, 1, d, ls, rs);
    }

    /// No replay across chains or deployments: the digest binds chain id and address.
    function test_signatures_do_not_replay_across_chain_or_deployment() public {
        fund(left, right, T, 100);
        SettlementDiff[] memory d = diff1(10, 0, -10, -10);
        bytes32 digest = depo.settlementDigest(left, right, 1, d);
        EntitySignature memory ls = signAll(left, digest);
        EntitySignature memory rs = signAll(right, digest);
        Depository twin = new Depository(registry, TIMEOUT);
        check(twin.settlementDigest(left, right, 1, d) != digest, "a second deployment signs the same digest");
        vm.chainId(homeChain + 1);
        vm.expectRevert(abi.encodeWithSelector(EntityRegistry.BadSignature.selector, 0, "not the validator's"));
        depo.settle(left, right, 1, d, ls, rs);
        vm.chainId(homeChain);
        bytes32 auth = depo.authDigest(left, 1, r2rOp(right, T, 1));
        check(twin.authDigest(left, 1, r2rOp(right, T, 1)) != auth, "auth digest ignores the deployment");
        depo.settle(left, right, 1, d, ls, rs);
    }

    /// Settlement conserves value per token and keeps the account's Δ where both signed it.
    function testFuzz_settlement_conserves_value(int64 lr, int64 rr, int64 od) public {
        fund(left, right, T, 400);
        fund(right, left, T, 200);
        int256 cd = -(int256(lr) + int256(rr));
        SettlementDiff[] memory d = diff1(lr, rr, cd, od);
        uint256 before = depo.reserves(left, T) + depo.reserves(right, T) + 600;
        bytes32 digest = depo.settlementDigest(left, right, 1, d);
        try depo.settle(left, right, 1, d, signAll(left, digest), signAll(right, digest)) {
            (uint256 c, int256 ondelta) = depo.collateralOf(left, right, T);
            eq(depo.reserves(left, T) + depo.reserves(right, T) + c, before, "value conserved");
            eqInt(ondelta, 400 + int256(od), "ondelta moved by exactly the diff");
        } catch (bytes memory reason) {
            check(reason.length >= 4, "a refusal without a reason");
            check(bytes4(reason) == Depository.BadDiff.selector, "unexpected refusal");
        }
    }

    // ---- disputes ---------------------------------------------------------------------

    function test_dispute_newer_proof_overrides_older_never() public {
        fund(left, right, T, 300);
        disputeSigned(left, right, proof1(5, T, -50));
        (uint256 nonce, uint256 deadline,) = depo.disputeOf(left, right);
        eq(nonce, 5, "nonce");
        AccountProof memory older = proof1(4, T, -300);
        bytes32 digest = depo.proofDigest(left, right, older);
        EntitySignature memory ls = signAll(left, digest);
        EntitySignature memory rs = signAll(right, digest);
        vm.expectRevert(abi.encodeWithSelector(Depository.StaleNonce.selector, 4, 6));
        depo.disputeStart(left, right, left, older, ls, rs);
        disputeSigned(left, right, proof1(9, T, -100));
        (uint256 n2, uint256 d2,) = depo.disputeOf(left, right);
        eq(n2, 9, "a newer proof overrides");
        eq(d2, deadline, "an override does not prolong the dispute");
        vm.roll(deadline);
        AccountProof memory late = proof1(10, T, 0);
        bytes32 lateDigest = depo.proofDigest(left, right, late);
        EntitySignature memory la = signAll(left, lateDigest);
        EntitySignature memory ra = signAll(right, lateDigest);
        vm.expectRevert(abi.encodeWithSelector(Depository.DisputeExpired.selector, deadline));
        depo.disputeStart(left, right, left, late, la, ra);
        depo.disputeFinalize(left, right);
        eq(depo.accountNonceOf(left, right), 9, "finalized at the winning nonce");
        // Δ = 300 - 100 = 200 < C = 300: left takes 200, right 100.
        eq(depo.reserves(left, T), 1000 - 300 + 200, "left");
        eq(depo.reserves(right, T), 500 + 100, "right");
        // A proof at or below the finalized nonce can never start a dispute again.
        AccountProof memory again = proof1(9, T, 0);
        bytes32 ad = depo.proofDigest(left, right, again);
        EntitySignature memory al = signAll(left, ad);
        EntitySignature memory ar = signAll(right, ad);
        vm.expectRevert(abi.encodeWithSelector(Depository.StaleNonce.selector, 9, 10));
        depo.disputeStart(left, right, left, again, al, ar);
    }

    function test_dispute_needs_both_signatures_and_the_deadline() public {
        fund(left, right, T, 100);
        AccountProof memory p = proof1(1, T, 0);
        bytes32 digest = depo.proofDigest(left, right, p);
        EntitySignature memory ls = signAll(left, digest);
        EntitySignature memory forged = signAll(left, digest); // the left signs for the right
        vm.expectRevert(abi.encodeWithSelector(EntityRegistry.BoardMismatch.selector, right));
        depo.disputeStart(left, right, left, p, ls, forged);
        vm.expectRevert(Depository.NoDispute.selector);
        depo.disputeFinalize(left, right);
        disputeSigned(left, right, p);
        (, uint256 deadline,) = depo.disputeOf(left, right);
        vm.expectRevert(abi.encodeWithSelector(Depository.DisputeNotExpired.selector, deadline));
        depo.disputeFinalize(left, right);
        // While disputed, no settlement and no funding.
        SettlementDiff[] memory d = diff1(0, 0, 0, 0);
        bytes32 sd = depo.settlementDigest(left, right, 2, d);
        EntitySignature memory sl = signAll(left, sd);
        EntitySignature memory sr = signAll(right, sd);
        vm.expectRevert(Depository.DisputeActive.selector);
        depo.settle(left, right, 2, d, sl, sr);
        EntitySignature memory f = authSig(left, r2cOp(right, T, 1));
        vm.expectRevert(Depository.DisputeActive.selector);
        depo.reserveToCollateral(left, right, T, 1, f);
    }

    /// The dispute split against the rule: Δ ≤ 0 right takes C and the left owes −Δ;
    /// 0 < Δ < C splits; Δ ≥ C left takes C and the right owes Δ − C; debts are paid from the
    /// debtor's reserve first, the rest recorded.
    function testFuzz_dispute_split_matches_the_rule(uint16 c, int32 offdelta) public {
        c = c % 1000 + 1; // within the left's reserve
        fund(left, right, T, c);
        uint256 lr = depo.reserves(left, T);
        uint256 rr = depo.reserves(right, T);
        disputeSigned(left, right, proof1(1, T, offdelta));
        vm.roll(block.number + TIMEOUT);
        depo.disputeFinalize(left, right);
        int256 delta = int256(uint256(c)) + offdelta;
        uint256 lTake;
        uint256 rTake;
        uint256 leftOwes;
        uint256 rightOwes;
        if (delta <= 0) {
            rTake = c;
            leftOwes = uint256(-delta);
        } else if (uint256(delta) < c) {
            lTake = uint256(delta);
            rTake = c - uint256(delta);
        } else {
            lTake = c;
            rightOwes = uint256(delta) - c;
        }
        uint256 lPaid = leftOwes < lr ? leftOwes : lr;
        uint256 rPaid = rightOwes < rr + rTake ? rightOwes : rr + rTake;
        eq(depo.reserves(left, T), lr + lTake - lPaid + rPaid, "left reserve");
        eq(depo.reserves(right, T), rr + rTake - rPaid + lPaid, "right reserve");
        eq(depo.debts(left, right, T), leftOwes - lPaid, "left's recorded debt");
        eq(depo.debts(right, left, T), rightOwes - rPaid, "right's recorded debt");
        eq(depo.reserves(left, T) + depo.reserves(right, T), lr + rr + c, "value conserved");
    }
}
