//! Crypto bindings: hashing, keys, signatures, RLP, ABI and merkle proofs for scripts.
//! Keys are opaque handles that print their address, never the secret.

use std::any::Any;
use std::rc::Rc;

use num_bigint::BigInt;
use num_traits::Signed;

use crate::crypto::{self, AbiArg, Address, CryptoError, RlpItem, SecretKey, Signature};
use crate::lang::builtins::{bytes_arg, list_arg, type_error, value_error};
use crate::lang::diagnostics::{Code, LangError};
use crate::lang::eval::Interp;
use crate::lang::number::to_bigint;
use crate::lang::source::Span;
use crate::lang::symbol::Sym;
use crate::lang::value::{NativeObject, Primitive, Value};

type R = Result<Value, LangError>;

/// A secp256k1 secret key held by a script.
pub struct KeyHandle(pub SecretKey);

impl NativeObject for KeyHandle {
    fn type_name(&self) -> &'static str {
        "key"
    }
    fn describe(&self) -> String {
        format!("#<key {}>", self.0.address().to_checksum())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn equal(&self, other: &dyn NativeObject) -> bool {
        other
            .as_any()
            .downcast_ref::<KeyHandle>()
            .is_some_and(|k| k.0.to_bytes() == self.0.to_bytes())
    }
}

fn crypto_error(who: &str, e: CryptoError) -> LangError {
    LangError::new(Code::Value, format!("{who}: {e}"))
}

/// Bytes from a bytes value, or the UTF-8 of a string.
fn data_arg(a: &[Value], i: usize, who: &str) -> Result<Vec<u8>, LangError> {
    match &a[i] {
        Value::Bytes(b) => Ok(b.to_vec()),
        Value::Str(s) => Ok(s.as_bytes().to_vec()),
        v => Err(type_error(who, i, "bytes or a string", v)),
    }
}

fn digest_arg(a: &[Value], i: usize, who: &str) -> Result<[u8; 32], LangError> {
    let b = bytes_arg(a, i, who)?;
    <[u8; 32]>::try_from(&b[..]).map_err(|_| {
        value_error(who, format!("a digest is 32 bytes, got {}", b.len()))
            .with_hint("hash the message first with keccak256")
    })
}

fn key_arg<'v>(a: &'v [Value], i: usize, who: &str) -> Result<&'v SecretKey, LangError> {
    match &a[i] {
        Value::Native(n) => n
            .as_any()
            .downcast_ref::<KeyHandle>()
            .map(|k| &k.0)
            .ok_or_else(|| type_error(who, i, "a key", &a[i])),
        v => Err(type_error(who, i, "a key (from make-key)", v)),
    }
}

fn address_arg(a: &[Value], i: usize, who: &str) -> Result<Address, LangError> {
    match &a[i] {
        Value::Native(_) => Ok(key_arg(a, i, who)?.address()),
        Value::Bytes(b) => Address::from_slice(b).map_err(|e| crypto_error(who, e)),
        Value::Str(s) => Address::from_hex(s).map_err(|e| crypto_error(who, e)),
        v => Err(type_error(
            who,
            i,
            "an address (20 bytes, hex text) or a key",
            v,
        )),
    }
}

fn signature_arg(a: &[Value], i: usize, who: &str) -> Result<Signature, LangError> {
    Signature::from_bytes(bytes_arg(a, i, who)?).map_err(|e| crypto_error(who, e))
}

fn keccak(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::bytes(&crypto::keccak256(&data_arg(
        a,
        0,
        "keccak256",
    )?)))
}
fn sha(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::bytes(&crypto::sha256(&data_arg(a, 0, "sha256")?)))
}
fn make_key(_: &mut Interp, a: &[Value], _: Span) -> R {
    let key = match &a[0] {
        Value::Str(seed) => SecretKey::from_seed(seed.as_bytes()),
        Value::Bytes(raw) => SecretKey::from_bytes(raw).map_err(|e| crypto_error("make-key", e))?,
        v => {
            return Err(type_error(
                "make-key",
                0,
                "a seed string or 32 secret-key bytes",
                v,
            ))
        }
    };
    Ok(Value::Native(Rc::new(KeyHandle(key))))
}
fn key_address(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::bytes(
        key_arg(a, 0, "key-address")?.address().as_bytes(),
    ))
}
fn key_public(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::bytes(
        &key_arg(a, 0, "key-public")?.public_key().to_uncompressed(),
    ))
}
fn address_checksum(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::string(
        &address_arg(a, 0, "address->string")?.to_checksum(),
    ))
}
fn sign(_: &mut Interp, a: &[Value], _: Span) -> R {
    let key = key_arg(a, 0, "sign")?;
    let digest = digest_arg(a, 1, "sign")?;
    let sig = key
        .sign_digest(&digest)
        .map_err(|e| crypto_error("sign", e))?;
    Ok(Value::bytes(&sig.to_bytes()))
}
fn verify(_: &mut Interp, a: &[Value], _: Span) -> R {
    let address = address_arg(a, 0, "verify")?;
    let digest = digest_arg(a, 1, "verify")?;
    let sig = signature_arg(a, 2, "verify")?;
    match crypto::verify_address(&address, &digest, &sig) {
        Ok(()) => Ok(Value::Bool(true)),
        Err(CryptoError::VerificationFailed | CryptoError::RecoveryFailed) => {
            Ok(Value::Bool(false))
        }
        Err(e) => Err(crypto_error("verify", e)),
    }
}
fn recover(_: &mut Interp, a: &[Value], _: Span) -> R {
    let digest = digest_arg(a, 0, "recover")?;
    let sig = signature_arg(a, 1, "recover")?;
    let address = crypto::recover_address(&digest, &sig).map_err(|e| crypto_error("recover", e))?;
    Ok(Value::bytes(address.as_bytes()))
}

/// Script value to RLP: bytes, strings (UTF-8), non-negative integers, lists and vectors.
pub fn value_to_rlp(v: &Value, depth: usize) -> Result<RlpItem, LangError> {
    if depth > crypto::MAX_RLP_DEPTH {
        return Err(value_error(
            "rlp-encode",
            format!("nesting deeper than {}", crypto::MAX_RLP_DEPTH),
        ));
    }
    match v {
        Value::Bytes(b) => Ok(RlpItem::Bytes(b.to_vec())),
        Value::Str(s) => Ok(RlpItem::Bytes(s.as_bytes().to_vec())),
        Value::Int(_) | Value::Big(_) => {
            let n = to_bigint(v).unwrap_or_default();
            if n.is_negative() {
                return Err(value_error("rlp-encode", "RLP integers are non-negative"));
            }
            let (_, bytes) = n.to_bytes_be();
            Ok(crypto::uint_item(&bytes))
        }
        Value::Nil | Value::Pair(_) | Value::Vector(_) => {
            let items: Vec<Value> = match v {
                Value::Vector(items) => items.iter().cloned().collect(),
                other => other.list_to_vec().ok_or_else(|| {
                    value_error("rlp-encode", "an improper list cannot be encoded")
                })?,
            };
            Ok(RlpItem::List(
                items
                    .iter()
                    .map(|x| value_to_rlp(x, depth + 1))
                    .collect::<Result<_, _>>()?,
            ))
        }
        other => Err(value_error(
            "rlp-encode",
            format!("cannot encode a {}", other.type_name()),
        )
        .with_hint("RLP holds bytes, strings, non-negative integers and lists of them")),
    }
}

fn rlp_to_value(item: &RlpItem) -> Value {
    match item {
        RlpItem::Bytes(b) => Value::bytes(b),
        RlpItem::List(items) => Value::list(items.iter().map(rlp_to_value).collect::<Vec<_>>()),
    }
}
fn rlp_encode(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::bytes(&value_to_rlp(&a[0], 0)?.encode()))
}
fn rlp_decode(_: &mut Interp, a: &[Value], _: Span) -> R {
    let item = RlpItem::decode(bytes_arg(a, 0, "rlp-decode")?)
        .map_err(|e| crypto_error("rlp-decode", e))?;
    Ok(rlp_to_value(&item))
}

fn abi_arg(v: &Value) -> Result<AbiArg, LangError> {
    Ok(match v {
        Value::Bool(b) => AbiArg::Bool(*b),
        Value::Int(_) | Value::Big(_) => {
            AbiArg::Int(to_bigint(v).unwrap_or_else(|| BigInt::from(0)))
        }
        Value::Str(s) => AbiArg::Str(s.to_string()),
        Value::Bytes(b) => AbiArg::Bytes(b.to_vec()),
        Value::Nil | Value::Pair(_) | Value::Vector(_) => {
            let items: Vec<Value> = match v {
                Value::Vector(items) => items.iter().cloned().collect(),
                other => other
                    .list_to_vec()
                    .ok_or_else(|| value_error("abi-encode", "an improper list"))?,
            };
            AbiArg::List(items.iter().map(abi_arg).collect::<Result<_, _>>()?)
        }
        other => {
            return Err(value_error(
                "abi-encode",
                format!("cannot encode a {}", other.type_name()),
            ))
        }
    })
}
fn abi_encode(_: &mut Interp, a: &[Value], _: Span) -> R {
    let types = list_arg(a, 0, "abi-encode")?;
    let types: Vec<String> = types
        .iter()
        .enumerate()
        .map(|(i, t)| match t {
            Value::Str(s) => Ok(s.to_string()),
            Value::Symbol(s) => Ok(s.name().to_string()),
            v => Err(type_error(
                "abi-encode",
                i,
                "a type name like \"uint256\"",
                v,
            )),
        })
        .collect::<Result<_, _>>()?;
    let args = list_arg(a, 1, "abi-encode")?
        .iter()
        .map(abi_arg)
        .collect::<Result<Vec<_>, _>>()?;
    let refs: Vec<&str> = types.iter().map(String::as_str).collect();
    crypto::abi_encode_args(&refs, &args)
        .map(|b| Value::bytes(&b))
        .map_err(|e| crypto_error("abi-encode", e))
}

fn leaves_arg(a: &[Value], i: usize, who: &str) -> Result<Vec<[u8; 32]>, LangError> {
    list_arg(a, i, who)?
        .iter()
        .enumerate()
        .map(|(k, v)| match v {
            Value::Bytes(b) => <[u8; 32]>::try_from(&b[..])
                .map_err(|_| value_error(who, format!("leaf {k} is {} bytes, not 32", b.len()))),
            v => Err(type_error(who, i, "a list of 32-byte leaves", v)),
        })
        .collect()
}
fn merkle_root(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::bytes(&crypto::merkle_root(&leaves_arg(
        a,
        0,
        "merkle-root",
    )?)))
}
fn merkle_proof(_: &mut Interp, a: &[Value], _: Span) -> R {
    let leaves = leaves_arg(a, 0, "merkle-proof")?;
    let index = crate::lang::builtins::index_arg(a, 1, "merkle-proof")?;
    let proof =
        crypto::merkle_proof(&leaves, index).map_err(|e| crypto_error("merkle-proof", e))?;
    let path = proof
        .path
        .iter()
        .map(|s| {
            Value::list(vec![
                Value::bytes(&s.sibling),
                Value::Bool(s.sibling_is_left),
            ])
        })
        .collect::<Vec<_>>();
    let k = |n: &str| Value::Keyword(Sym::new(n));
    Ok(Value::Map(Rc::new(
        [
            (k("index"), Value::Int(proof.leaf_index as i64)),
            (k("count"), Value::Int(proof.leaf_count as i64)),
            (k("path"), Value::list(path)),
        ]
        .into_iter()
        .collect(),
    )))
}
fn merkle_verify(_: &mut Interp, a: &[Value], _: Span) -> R {
    let root = digest_arg(a, 0, "merkle-verify")?;
    let leaf = digest_arg(a, 1, "merkle-verify")?;
    let Value::Map(m) = &a[2] else {
        return Err(type_error(
            "merkle-verify",
            2,
            "a proof from merkle-proof",
            &a[2],
        ));
    };
    let get = |name: &str| m.get(&Value::Keyword(Sym::new(name))).cloned();
    let number = |v: Option<Value>| match v {
        Some(Value::Int(n)) if n >= 0 => Ok(n as usize),
        _ => Err(value_error(
            "merkle-verify",
            "the proof needs #:index and #:count",
        )),
    };
    let mut path = Vec::new();
    for step in get("path")
        .and_then(|p| p.list_to_vec())
        .unwrap_or_default()
    {
        match step.list_to_vec().as_deref() {
            Some([Value::Bytes(s), Value::Bool(left)]) if s.len() == 32 => {
                let mut sibling = [0u8; 32];
                sibling.copy_from_slice(s);
                path.push(crypto::ProofStep {
                    sibling,
                    sibling_is_left: *left,
                });
            }
            _ => {
                return Err(value_error(
                    "merkle-verify",
                    "each path step is (sibling-32-bytes left?)",
                ))
            }
        }
    }
    let proof = crypto::MerkleProof {
        leaf_index: number(get("index"))?,
        leaf_count: number(get("count"))?,
        path,
    };
    proof
        .verify(&root, &leaf)
        .map(Value::Bool)
        .map_err(|e| crypto_error("merkle-verify", e))
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "keccak256", 1, Some(1), keccak, "Keccak-256 of bytes (or a string's UTF-8).", "(keccak256 \"\") => #x\"c5d2...a470\"";
    "sha256", 1, Some(1), sha, "SHA-256 of bytes (or a string's UTF-8).", "(sha256 #x\"\") => #x\"e3b0...b855\"";
    "make-key", 1, Some(1), make_key, "A secp256k1 key from a seed string (deterministic) or 32 secret bytes.", "(make-key \"alice\") => #<key 0x...>";
    "key-address", 1, Some(1), key_address, "The key's 20-byte Ethereum address.", "(bytes-length (key-address (make-key \"a\"))) => 20";
    "key-public", 1, Some(1), key_public, "The 65-byte uncompressed public key.", "(bytes-length (key-public k)) => 65";
    "address->string", 1, Some(1), address_checksum, "EIP-55 checksummed hex of an address (or a key's).", "(address->string k) => \"0x7E5F...\"";
    "sign", 2, Some(2), sign, "65-byte signature r||s||v (RFC 6979, low-S, v 27/28) over a 32-byte digest.", "(sign k (keccak256 \"msg\"))";
    "verify", 3, Some(3), verify, "Was the digest signed by this address (or key)? Malformed signatures raise.", "(verify k d (sign k d)) => #t";
    "recover", 2, Some(2), recover, "The signer's address from a digest and a signature.", "(equal? (recover d (sign k d)) (key-address k)) => #t";
    "rlp-encode", 1, Some(1), rlp_encode, "RLP of bytes, strings, non-negative integers and nested lists.", "(rlp-encode \"dog\") => #x\"83646f67\"";
    "rlp-decode", 1, Some(1), rlp_decode, "Strict RLP decoding to nested lists of bytes.", "(rlp-decode #x\"83646f67\") => #x\"646f67\"";
    "abi-encode", 2, Some(2), abi_encode, "Solidity ABI encoding of values for a list of types.", "(abi-encode '(\"uint256\") '(5))";
    "merkle-root", 1, Some(1), merkle_root, "Root over 32-byte leaves (leaf/inner domain-separated; odd node promoted).", "(merkle-root (list (keccak256 \"a\")))";
    "merkle-proof", 2, Some(2), merkle_proof, "Inclusion proof of leaf i as {#:index #:count #:path}.", "(merkle-proof leaves 0)";
    "merkle-verify", 3, Some(3), merkle_verify, "Does the proof show the leaf under the root?", "(merkle-verify root leaf proof) => #t";
];
