// SPDX-License-Identifier: MIT
// EntityRegistry: board checks and signature verification, each refusal with its reason.
pragma solidity 0.8.30;

import {EntityRegistry, Board, EntitySignature} from "../src/EntityRegistry.sol";
import {Fixture, Keys} from "./Base.sol";

contract RegistryTest is Fixture {
    uint256 internal e1;
    bytes32 internal constant DIGEST = keccak256("xln/forge/digest");

    function setUp() public {
        deploy();
        e1 = register(1, 3, 2);
    }

    function test_registers_in_order_with_the_board_hash() public {
        uint256 e2 = register(2, 1, 1);
        eq(e2, e1 + 1, "entity numbers");
        check(registry.boardHash(e2) == registry.hashBoard(keysOf[e2].board), "board hash");
    }

    function test_refuses_bad_boards() public {
        Keys memory k = makeKeys(9, 3, 2);
        Board memory b = k.board;
        b.threshold = 0;
        vm.expectRevert(abi.encodeWithSelector(EntityRegistry.InvalidBoard.selector, "zero threshold"));
        registry.registerEntity(b);
        b.threshold = 4;
        vm.expectRevert(abi.encodeWithSelector(EntityRegistry.InvalidBoard.selector, "threshold above total shares"));
        registry.registerEntity(b);
        b.threshold = 2;
        (b.validators[0], b.validators[1]) = (b.validators[1], b.validators[0]);
        vm.expectRevert(abi.encodeWithSelector(EntityRegistry.InvalidBoard.selector, "validators not strictly increasing"));
        registry.registerEntity(b);
        Board memory empty = Board(new address[](0), new uint256[](0), 1);
        vm.expectRevert(abi.encodeWithSelector(EntityRegistry.InvalidBoard.selector, "validator count"));
        registry.registerEntity(empty);
        Board memory short = Board(k.board.validators, new uint256[](2), 1);
        vm.expectRevert(abi.encodeWithSelector(EntityRegistry.InvalidBoard.selector, "shares length"));
        registry.registerEntity(short);
    }

    function test_threshold_of_real_signatures_verifies() public view {
        registry.verifyEntity(e1, DIGEST, signAs(e1, DIGEST, 2));
        registry.verifyEntity(e1, DIGEST, signAs(e1, DIGEST, 3));
    }

    function test_below_threshold_is_refused() public {
        EntitySignature memory s = signAs(e1, DIGEST, 1);
        vm.expectRevert(abi.encodeWithSelector(EntityRegistry.BelowThreshold.selector, 1, 2));
        registry.verifyEntity(e1, DIGEST, s);
    }

    function test_signature_over_another_digest_is_refused() public {
        EntitySignature memory s = signAs(e1, keccak256("other"), 2);
        vm.expectRevert(abi.encodeWithSelector(EntityRegistry.BadSignature.selector, 0, "not the validator's"));
        registry.verifyEntity(e1, DIGEST, s);
    }

    function test_strict_encodings() public {
        EntitySignature memory s = signAs(e1, DIGEST, 2);
        bytes memory good = s.signatures[0];
        // v = 0/1 (raw recovery id) is refused: only 27/28.
        s.signatures[0] = withByte(good, 64, uint8(good[64]) - 27);
        expectBad(s, 0, "v");
        // High s (n - s) with the flipped v is the malleable twin.
        s.signatures[0] = highS(good);
        expectBad(s, 0, "high s");
        s.signatures[0] = new bytes(64);
        expectBad(s, 0, "length");
        bytes memory zero = new bytes(65);
        zero[64] = bytes1(uint8(27));
        s.signatures[0] = zero;
        expectBad(s, 0, "zero r or s");
        // r = 5 is no curve point's x: nothing recovers.
        bytes memory r5 = withByte(good, 31, 5);
        for (uint256 i = 0; i < 31; i++) r5[i] = 0;
        s.signatures[0] = r5;
        expectBad(s, 0, "unrecoverable");
    }

    function test_board_mismatch_and_unknown_entity() public {
        EntitySignature memory s = signAs(e1, DIGEST, 2);
        s.board.threshold = 1;
        vm.expectRevert(abi.encodeWithSelector(EntityRegistry.BoardMismatch.selector, e1));
        registry.verifyEntity(e1, DIGEST, s);
        vm.expectRevert(abi.encodeWithSelector(EntityRegistry.UnknownEntity.selector, 99));
        registry.verifyEntity(99, DIGEST, s);
    }

    /// Any single-byte change to a valid signature set stops it verifying.
    function testFuzz_tampered_signature_never_verifies(uint8 which, uint8 at, uint8 mask) public {
        vm.assume(mask != 0);
        EntitySignature memory s = signAs(e1, DIGEST, 2);
        uint256 i = which % 2;
        s.signatures[i] = withByte(s.signatures[i], at % 65, uint8(s.signatures[i][at % 65]) ^ mask);
        (bool ok,) = address(registry).call(abi.encodeCall(EntityRegistry.verifyEntity, (e1, DIGEST, s)));
        check(!ok, "a tampered signature verified");
    }

    function expectBad(EntitySignature memory s, uint256 index, string memory reason) internal {
        vm.expectRevert(abi.encodeWithSelector(EntityRegistry.BadSignature.selector, index, reason));
        registry.verifyEntity(e1, DIGEST, s);
    }

    function withByte(bytes memory b, uint256 at, uint8 value) internal pure returns (bytes memory c) {
        c = bytes.concat(b);
        c[at] = bytes1(value);
    }

    function highS(bytes memory sig) internal pure returns (bytes memory) {
        uint256 n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
        bytes32 r;
        bytes32 s;
        assembly {
            r := mload(add(sig, 32))
            s := mload(add(sig, 64))
        }
        uint8 v = uint8(sig[64]) == 27 ? 28 : 27;
        return abi.encodePacked(r, bytes32(n - uint256(s)), v);
    }
}
