//! Strict RLP: bytes that decode re-encode to exactly the same bytes (one encoding per
//! item), the encoded length agrees, and the integer helpers accept only minimal forms.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xln::crypto::{decode_u128, decode_u64, uint_item, RlpItem};

fuzz_target!(|data: &[u8]| {
    let Ok(item) = RlpItem::decode(data) else {
        return;
    };
    assert_eq!(
        item.encode(),
        data,
        "decoded bytes do not re-encode identically"
    );
    assert_eq!(item.encoded_len(), data.len());
    if let Ok(x) = decode_u64(&item) {
        assert_eq!(
            uint_item(&x.to_be_bytes()).encode(),
            data,
            "u64 {x} is not minimal"
        );
    }
    if let Ok(x) = decode_u128(&item) {
        assert_eq!(
            uint_item(&x.to_be_bytes()).encode(),
            data,
            "u128 {x} is not minimal"
        );
    }
});
