//! Binary merkle trees over 32-byte leaves: roots, inclusion proofs and verification.
//!
//! The tree, fixed so every replica computes the same root:
//! * **Domain separation.** A leaf is hashed as `keccak256(0x00 || leaf)` and an inner
//!   node as `keccak256(0x01 || left || right)`. A leaf hash can therefore never be
//!   passed off as an inner node (second-preimage attack on proofs), and a 64-byte
//!   leaf-pair can never be confused with a leaf.
//! * **Odd node rule.** When a level has an odd number of nodes, the last node is
//!   **promoted unchanged** to the next level (it is not hashed with itself). Bitcoin
//!   duplicates the last node instead, which makes `[a, b, c]` and `[a, b, c, c]` share a
//!   root (CVE-2012-2459); with promotion, different leaf lists give different roots and
//!   a proof for a promoted node simply has no step at that level.
//! * **Single leaf.** The root of `[x]` is the leaf hash `keccak256(0x00 || x)`.
//! * **Empty list.** The root of `[]` is `keccak256("")` (the hash of zero bytes),
//!   which cannot collide with any leaf or inner hash because both have a one-byte
//!   prefix in their preimage.
//!
//! A [`MerkleProof`] carries the leaf index and the leaf count; together they fix the
//! exact shape of the path, and [`verify_proof`] rejects any proof whose length or
//! left/right flags disagree with that shape (an error, not just `false`). A proof that
//! verifies authenticates the leaf **and its index** (every index bit is fixed by a flag
//! or a promotion). The root commits to the whole leaf list, hence to its length, but a
//! single proof does not prove the count: some other counts give the same path shape.
//! Take `leaf_count` from a trusted place (the signed frame that carries the root),
//! as RFC 6962 takes the tree size from the signed tree head.

use super::{keccak256, CryptoError};

/// Hash of a leaf: `keccak256(0x00 || leaf)`. Cannot fail.
pub fn leaf_hash(leaf: &[u8; 32]) -> [u8; 32] {
    let mut buf = [0u8; 33];
    buf[1..].copy_from_slice(leaf);
    keccak256(&buf)
}

/// Hash of an inner node: `keccak256(0x01 || left || right)`. Cannot fail.
pub fn inner_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut buf = [0u8; 65];
    buf[0] = 0x01;
    buf[1..33].copy_from_slice(left);
    buf[33..].copy_from_slice(right);
    keccak256(&buf)
}

/// Merkle root of `leaves` under the rules in the module doc (empty list:
/// `keccak256("")`). Cannot fail.
pub fn merkle_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    if leaves.is_empty() {
        return keccak256(&[]);
    }
    let mut level: Vec<[u8; 32]> = leaves.iter().map(leaf_hash).collect();
    while level.len() > 1 {
        level = next_level(&level);
    }
    level[0]
}

fn next_level(level: &[[u8; 32]]) -> Vec<[u8; 32]> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [l, r] => inner_hash(l, r),
            [single] => *single,
            _ => [0u8; 32], // chunks(2) yields only 1- or 2-element slices
        })
        .collect()
}

/// One step of a proof: the sibling's hash and whether the sibling is the left child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProofStep {
    /// Hash of the sibling node at this level.
    pub sibling: [u8; 32],
    /// True if the sibling is on the left (our node is the right child).
    pub sibling_is_left: bool,
}

/// Inclusion proof for the leaf at `leaf_index` in a tree of `leaf_count` leaves. Steps
/// go from the leaf level upwards; levels where the node is promoted have no step.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MerkleProof {
    /// Position of the proven leaf (0-based).
    pub leaf_index: usize,
    /// Number of leaves in the tree.
    pub leaf_count: usize,
    /// Sibling hashes from the bottom level to the top.
    pub path: Vec<ProofStep>,
}

/// Builds the inclusion proof for `leaves[index]`. Why: a counterparty proves one entry
/// (e.g. a subcontract in a frame) without sending the whole list.
///
/// # Errors
/// [`CryptoError::MerkleIndexOutOfRange`] if `index >= leaves.len()` (including empty).
pub fn merkle_proof(leaves: &[[u8; 32]], index: usize) -> Result<MerkleProof, CryptoError> {
    if index >= leaves.len() {
        return Err(CryptoError::MerkleIndexOutOfRange {
            index,
            count: leaves.len(),
        });
    }
    let mut level: Vec<[u8; 32]> = leaves.iter().map(leaf_hash).collect();
    let mut i = index;
    let mut path = Vec::new();
    while level.len() > 1 {
        let sibling = i ^ 1;
        if let Some(h) = level.get(sibling) {
            path.push(ProofStep {
                sibling: *h,
                sibling_is_left: i % 2 == 1,
            });
        }
        level = next_level(&level);
        i /= 2;
    }
    Ok(MerkleProof {
        leaf_index: index,
        leaf_count: leaves.len(),
        path,
    })
}

impl MerkleProof {
    /// The root implied by this proof for `leaf`.
    ///
    /// # Errors
    /// [`CryptoError::MerkleMalformedProof`] if the count is zero, the index is out of
    /// range, the path is too short or too long, or a left/right flag contradicts the
    /// position implied by the index and count.
    pub fn compute_root(&self, leaf: &[u8; 32]) -> Result<[u8; 32], CryptoError> {
        let malformed = |reason: String| CryptoError::MerkleMalformedProof { reason };
        if self.leaf_index >= self.leaf_count {
            return Err(malformed(format!(
                "leaf index {} is not below leaf count {}",
                self.leaf_index, self.leaf_count
            )));
        }
        let mut h = leaf_hash(leaf);
        let mut steps = self.path.iter();
        let (mut i, mut n) = (self.leaf_index, self.leaf_count);
        let mut level = 0usize;
        while n > 1 {
            let promoted = i == n - 1 && n % 2 == 1;
            if !promoted {
                let step = steps.next().ok_or_else(|| {
                    malformed(format!("path ends at level {level} below the root"))
                })?;
                let expect_left = i % 2 == 1;
                if step.sibling_is_left != expect_left {
                    return Err(malformed(format!(
                        "sibling at level {level} should be on the {}",
                        if expect_left { "left" } else { "right" }
                    )));
                }
                h = if expect_left {
                    inner_hash(&step.sibling, &h)
                } else {
                    inner_hash(&h, &step.sibling)
                };
            }
            i /= 2;
            n = n.div_ceil(2);
            level += 1;
        }
        let extra = steps.count();
        if extra > 0 {
            return Err(malformed(format!("{extra} step(s) past the root")));
        }
        Ok(h)
    }

    /// True if this proof shows `leaf` at `leaf_index` under `root`; same as
    /// [`verify_proof`].
    ///
    /// # Errors
    /// As [`MerkleProof::compute_root`].
    pub fn verify(&self, root: &[u8; 32], leaf: &[u8; 32]) -> Result<bool, CryptoError> {
        Ok(self.compute_root(leaf)? == *root)
    }
}

/// Checks an inclusion proof: `Ok(true)` if `leaf` is at `proof.leaf_index` of a
/// `proof.leaf_count`-leaf tree with this `root`, `Ok(false)` if the hashes do not match.
///
/// # Errors
/// [`CryptoError::MerkleMalformedProof`] if the proof's shape is inconsistent (see
/// [`MerkleProof::compute_root`]); treat it as a rejection.
pub fn verify_proof(
    root: &[u8; 32],
    leaf: &[u8; 32],
    proof: &MerkleProof,
) -> Result<bool, CryptoError> {
    proof.verify(root, leaf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u8) -> Vec<[u8; 32]> {
        (0..n).map(|i| [i; 32]).collect()
    }

    #[test]
    fn small_trees() {
        assert_eq!(merkle_root(&[]), keccak256(b""));
        let l = leaves(3);
        assert_eq!(merkle_root(&l[..1]), leaf_hash(&l[0]));
        let expected = inner_hash(
            &inner_hash(&leaf_hash(&l[0]), &leaf_hash(&l[1])),
            &leaf_hash(&l[2]),
        );
        assert_eq!(merkle_root(&l), expected);
        // No CVE-2012-2459 style collision.
        let mut dup = l.clone();
        dup.push(l[2]);
        assert_ne!(merkle_root(&l), merkle_root(&dup));
    }

    #[test]
    fn proofs() {
        for n in 1..=17u8 {
            let l = leaves(n);
            let root = merkle_root(&l);
            for i in 0..n as usize {
                let p = merkle_proof(&l, i).unwrap();
                assert_eq!(verify_proof(&root, &l[i], &p), Ok(true));
                let mut other = l[i];
                other[0] ^= 1;
                assert_eq!(verify_proof(&root, &other, &p), Ok(false));
            }
        }
        assert!(merkle_proof(&[], 0).is_err());
    }
}
