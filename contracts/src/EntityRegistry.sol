// SPDX-License-Identifier: MIT
// EntityRegistry: numbered entities bound to the hash of their board, and the check that
// a set of validator signatures over a digest carries the board's threshold.
pragma solidity 0.8.30;

/// A board as signed for: validators in strictly increasing address order, their shares,
/// and the threshold of shares a decision needs. Its hash is
/// keccak256(abi.encode(validators, shares, threshold)).
struct Board {
    address[] validators;
    uint256[] shares;
    uint256 threshold;
}

/// An entity's signature: the board (checked against the registered hash) and one entry per
/// validator, either empty (did not sign) or 65 bytes r || s || v.
struct EntitySignature {
    Board board;
    bytes[] signatures;
}

contract EntityRegistry {
    /// Bounds the loops over a board (every signature check is linear in it).
    uint256 public constant MAX_VALIDATORS = 32;
    /// secp256k1 order / 2: signatures with a larger s are malleable copies and refused.
    uint256 internal constant HALF_ORDER =
        0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    /// boardHash[id]; ids start at 1, zero means unregistered.
    mapping(uint256 => bytes32) public boardHash;
    uint256 public entityCount;

    event EntityRegistered(uint256 indexed entity, bytes32 boardHash);

    error InvalidBoard(string reason);
    error UnknownEntity(uint256 entity);
    error BoardMismatch(uint256 entity);
    error BadSignature(uint256 index, string reason);
    error BelowThreshold(uint256 signed, uint256 threshold);

    /// Registers a board and returns the entity's number. The board is checked in full, so
    /// a registered hash always names a usable board.
    function registerEntity(Board calldata board) external returns (uint256 entity) {
        checkBoard(board);
        entity = ++entityCount;
        bytes32 h = hashBoard(board);
        boardHash[entity] = h;
        emit EntityRegistered(entity, h);
    }

    function hashBoard(Board calldata board) public pure returns (bytes32) {
        return keccak256(abi.encode(board.validators, board.shares, board.threshold));
    }

    function checkBoard(Board calldata board) public pure {
        uint256 n = board.validators.length;
        if (n == 0 || n > MAX_VALIDATORS) revert InvalidBoard("validator count");
        if (board.shares.length != n) revert InvalidBoard("shares length");
        if (board.threshold == 0) revert InvalidBoard("zero threshold");
        uint256 total = 0;
        for (uint256 i = 0; i < n; i++) {
            if (board.validators[i] == address(0)) revert InvalidBoard("zero validator");
            if (i > 0 && board.validators[i] <= board.validators[i - 1]) {
                revert InvalidBoard("validators not strictly increasing");
            }
            if (board.shares[i] == 0 || board.shares[i] > type(uint64).max) {
                revert InvalidBoard("share out of range");
            }
            total += board.shares[i];
        }
        if (total < board.threshold) revert InvalidBoard("threshold above total shares");
    }

    /// Reverts unless `sig` is the registered entity's board signing `digest` (raw 32-byte
    /// digest, no message prefix) with shares at or above the threshold.
    function verifyEntity(uint256 entity, bytes32 digest, EntitySignature calldata sig)
        external
        view
    {
        bytes32 h = boardHash[entity];
        if (h == bytes32(0)) revert UnknownEntity(entity);
        if (hashBoard(sig.board) != h) revert BoardMismatch(entity);
        uint256 n = sig.board.validators.length;
        if (sig.signatures.length != n) revert BadSignature(n, "signature count");
        uint256 signed = 0;
        for (uint256 i = 0; i < n; i++) {
            bytes calldata s = sig.signatures[i];
            if (s.length == 0) continue;
            if (recoverSigner(digest, s, i) != sig.board.validators[i]) {
                revert BadSignature(i, "not the validator's");
            }
            signed += sig.board.shares[i];
        }
        if (signed < sig.board.threshold) revert BelowThreshold(signed, sig.board.threshold);
    }

    /// ecrecover with the strict rules: 65 bytes, v in {27, 28}, low s, non-zero r and s,
    /// and a non-zero recovered address.
    function recoverSigner(bytes32 digest, bytes calldata sig, uint256 index)
        internal
        pure
        returns (address signer)
    {
        if (sig.length != 65) revert BadSignature(index, "length");
        bytes32 r = bytes32(sig[0:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        if (v != 27 && v != 28) revert BadSignature(index, "v");
        if (uint256(r) == 0 || uint256(s) == 0) revert BadSignature(index, "zero r or s");
        if (uint256(s) > HALF_ORDER) revert BadSignature(index, "high s");
        signer = ecrecover(digest, v, r, s);
        if (signer == address(0)) revert BadSignature(index, "unrecoverable");
    }
}
