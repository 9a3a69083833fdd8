// SPDX-License-Identifier: MIT
// Test scaffolding written for xln (no forge-std): the subset of forge's cheatcode
// interface these tests use, assertion helpers that revert with a message, and a fixture
// that deploys the registry and the depository and signs for entities with real keys.
pragma solidity 0.8.30;

import {EntityRegistry, Board, EntitySignature} from "../src/EntityRegistry.sol";
import {Depository, SettlementDiff, AccountProof} from "../src/Depository.sol";

/// forge's cheatcodes (the address is forge's fixed HEVM address).
interface Vm {
    function addr(uint256 privateKey) external pure returns (address);
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function prank(address sender) external;
    function roll(uint256 blockNumber) external;
    function chainId(uint256 newChainId) external;
    function expectRevert(bytes calldata revertData) external;
    function expectRevert(bytes4 selector) external;
    function assume(bool condition) external pure;
}

abstract contract Asserts {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    function check(bool ok, string memory what) internal pure {
        require(ok, what);
    }

    function eq(uint256 a, uint256 b, string memory what) internal pure {
        if (a != b) revert(string.concat(what, ": ", str(a), " != ", str(b)));
    }

    function eqInt(int256 a, int256 b, string memory what) internal pure {
        if (a != b) revert(what);
    }

    function str(uint256 x) internal pure returns (string memory) {
        if (x == 0) return "0";
        bytes memory b;
        while (x > 0) {
            b = abi.encodePacked(bytes1(uint8(48 + (x % 10))), b);
            x /= 10;
        }
        return string(b);
    }
}

/// One entity's keys and board (validators sorted by address, as the registry requires).
struct Keys {
    uint256[] secrets;
    Board board;
}

/// Deploys EntityRegistry and Depository and makes entities with real signing keys.
contract Fixture is Asserts {
    EntityRegistry internal registry;
    Depository internal depo;
    uint256 internal constant TIMEOUT = 10;
    mapping(uint256 => Keys) internal keysOf;

    function deploy() internal {
        registry = new EntityRegistry();
        depo = new Depository(registry, TIMEOUT);
    }

    /// A board of `n` equal-share validators derived from `seed`, threshold `t`.
    function makeKeys(uint256 seed, uint256 n, uint256 t) internal view returns (Keys memory k) {
        k.secrets = new uint256[](n);
        address[] memory vals = new address[](n);
        for (uint256 i = 0; i < n; i++) {
            k.secrets[i] = uint256(keccak256(abi.encode("xln/forge/key", seed, i))) % (type(uint128).max) + 1;
            vals[i] = vm.addr(k.secrets[i]);
        }
        // Insertion sort by address, keys alongside.
        for (uint256 i = 1; i < n; i++) {
            for (uint256 j = i; j > 0 && vals[j] < vals[j - 1]; j--) {
                (vals[j], vals[j - 1]) = (vals[j - 1], vals[j]);
                (k.secrets[j], k.secrets[j - 1]) = (k.secrets[j - 1], k.secrets[j]);
            }
        }
        uint256[] memory shares = new uint256[](n);
        for (uint256 i = 0; i < n; i++) shares[i] = 1;
        k.board = Board(vals, shares, t);
    }

    function register(uint256 seed, uint256 n, uint256 t) internal returns (uint256 entity) {
        Keys memory k = makeKeys(seed, n, t);
        entity = registry.registerEntity(k.board);
        keysOf[entity] = k;
    }

    function sig65(uint256 secret, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(secret, digest);
        return abi.encodePacked(r, s, v);
    }

    /// The entity's board signing `digest` with its first `signers` validators.
    function signAs(uint256 entity, bytes32 digest, uint256 signers) internal view returns (EntitySignature memory sig) {
        Keys storage k = keysOf[entity];
        uint256 n = k.secrets.length;
        sig.board = k.board;
        sig.signatures = new bytes[](n);
        for (uint256 i = 0; i < n && i < signers; i++) sig.signatures[i] = sig65(k.secrets[i], digest);
    }

    function signAll(uint256 entity, bytes32 digest) internal view returns (EntitySignature memory) {
        return signAs(entity, digest, keysOf[entity].secrets.length);
    }

    function authSig(uint256 entity, bytes32 op) internal view returns (EntitySignature memory) {
        return signAll(entity, depo.authDigest(entity, depo.entityNonce(entity) + 1, op));
    }

    function r2cOp(uint256 peer, uint256 token, uint256 amount) internal pure returns (bytes32) {
        return keccak256(abi.encode("r2c", peer, token, amount));
    }

    function r2rOp(uint256 to, uint256 token, uint256 amount) internal pure returns (bytes32) {
        return keccak256(abi.encode("r2r", to, token, amount));
    }

    function fund(uint256 entity, uint256 peer, uint256 token, uint256 amount) internal {
        depo.reserveToCollateral(entity, peer, token, amount, authSig(entity, r2cOp(peer, token, amount)));
    }

    function settleSigned(uint256 left, uint256 right, uint256 nonce, SettlementDiff[] memory diffs) internal {
        bytes32 digest = depo.settlementDigest(left, right, nonce, diffs);
        depo.settle(left, right, nonce, diffs, signAll(left, digest), signAll(right, digest));
    }

    function proof1(uint256 nonce, uint256 token, int256 offdelta) internal pure returns (AccountProof memory p) {
        p.nonce = nonce;
        p.tokens = new uint256[](1);
        p.tokens[0] = token;
        p.offdeltas = new int256[](1);
        p.offdeltas[0] = offdelta;
    }

    function disputeSigned(uint256 left, uint256 right, AccountProof memory p) internal {
        bytes32 digest = depo.proofDigest(left, right, p);
        depo.disputeStart(left, right, left, p, signAll(left, digest), signAll(right, digest));
    }
}
