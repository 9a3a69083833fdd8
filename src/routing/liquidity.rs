//! The liquidity model's arithmetic, in integers only so that every machine ranks routes
//! alike: the success probability of an amount over an edge whose liquidity is uniform on
//! `lower..=upper`, its negative base-2 logarithm in fixed point, the penalty built from it,
//! and the decay of learned bounds by half-lives.
//!
//! # Definitions (all exact functions of their integer inputs)
//!
//! * **Liquidity** `L` of a directed edge: what its forwarding side can send through it now,
//!   unknown to everyone but that side. Model: `L` is uniform on the integers
//!   `lower..=upper` (the prior is `0..=capacity`; learning narrows it).
//! * **Success probability** of sending `a` over the edge: `P(L ≥ a)`, which is 1 if
//!   `a ≤ lower`, 0 if `a > upper`, else `(upper − a + 1) / (upper − lower + 1)`.
//! * **Failure bits** `−log2 P(L ≥ a)` in Q16 (units of 1/65,536 bit): [`failure_bits`] =
//!   `log2_q16(upper − lower + 1) − log2_q16(upper − a + 1)`, where [`log2_q16`] is the
//!   integer part of log2 (from the leading bit) plus a table of `log2(1 + i/1024)` for the
//!   next 10 bits, the table computed at compile time by repeated squaring in integers.
//!   Rounding: each logarithm is truncated (error below 0.0015 bit), so a probability above
//!   ~0.999 may cost 0 bits; the result never goes negative.
//! * **Decay**: a learned offset `x` (how far a bound moved from the prior) shrinks to
//!   `x × 2^(−t / half_life)`: whole half-lives are right shifts, the remaining fraction is
//!   rounded down to a sixteenth and applied from a table of `2^(−i/16)` in Q16.
//!
//! No floating point enters any of these; the one float of the routing layer,
//! [`Route::success_probability`](super::Route::success_probability), is a report only.

/// One bit in the Q16 fixed point [`failure_bits`] and [`log2_q16`] return.
pub const BIT: u32 = 1 << 16;

/// Mantissa bits the log2 table resolves.
const MANTISSA_BITS: u32 = 10;

/// `LOG2_TABLE[i] = floor(log2(1 + i/1024) × 65536)`.
static LOG2_TABLE: [u32; 1 << MANTISSA_BITS] = log2_table();

/// `DECAY_TABLE[i] = round(2^(−i/16) × 65536)`, checked against the definition in a test.
const DECAY_TABLE: [u32; 16] = [
    65536, 62757, 60097, 57549, 55109, 52773, 50535, 48393, 46341, 44376, 42495, 40693, 38968,
    37316, 35734, 34219,
];

/// Builds [`LOG2_TABLE`] by the bit-by-bit squaring method on a Q60 mantissa: squaring a
/// value in [1, 2) doubles its logarithm; a result of 2 or more means the next bit is 1.
const fn log2_table() -> [u32; 1 << MANTISSA_BITS] {
    const ONE: u128 = 1 << 60;
    let mut table = [0u32; 1 << MANTISSA_BITS];
    let mut i = 0;
    while i < table.len() {
        // m = 1 + i/1024 in Q60; m < 2, so m² < 2^122 fits.
        let mut m: u128 = ((1 << MANTISSA_BITS) + i as u128) << (60 - MANTISSA_BITS);
        let mut bits = 0u32;
        let mut k = 0;
        while k < 16 {
            m = (m * m) >> 60;
            bits <<= 1;
            if m >= 2 * ONE {
                m >>= 1;
                bits |= 1;
            }
            k += 1;
        }
        table[i] = bits;
        i += 1;
    }
    table
}

/// `log2(x)` in Q16, truncated (see the module doc); 0 for `x ≤ 1`. Monotone in `x`.
#[inline]
pub fn log2_q16(x: u128) -> u32 {
    if x <= 1 {
        return 0;
    }
    let whole = 127 - x.leading_zeros();
    let mantissa = if whole >= MANTISSA_BITS {
        (x >> (whole - MANTISSA_BITS)) as usize
    } else {
        (x << (MANTISSA_BITS - whole)) as usize
    } & ((1 << MANTISSA_BITS) - 1);
    whole * BIT + LOG2_TABLE[mantissa]
}

/// `−log2 P(L ≥ amount)` in Q16 for `L` uniform on `lower..=upper`, or `None` if the edge
/// cannot have that much (`amount > upper`). 0 when `amount ≤ lower` (certain).
#[inline]
pub fn failure_bits(amount: u128, lower: u128, upper: u128) -> Option<u32> {
    if amount > upper {
        return None;
    }
    if amount <= lower {
        return Some(0);
    }
    let outcomes = (upper - lower).saturating_add(1);
    let good = upper - amount + 1;
    Some(log2_q16(outcomes).saturating_sub(log2_q16(good)))
}

/// `P(L ≥ amount)` as an exact fraction `(numerator, denominator)` for `L` uniform on
/// `lower..=upper`: `(1, 1)` if certain, `(0, 1)` if impossible.
pub fn success_fraction(amount: u128, lower: u128, upper: u128) -> (u128, u128) {
    if amount > upper {
        (0, 1)
    } else if amount <= lower {
        (1, 1)
    } else {
        (upper - amount + 1, (upper - lower).saturating_add(1))
    }
}

/// `floor(amount × ppm / 1,000,000)`, exact whenever the result fits (the product is split
/// so it never overflows early); saturates at `u128::MAX` otherwise.
#[inline]
pub fn ppm_of(amount: u128, ppm: u32) -> u128 {
    if let Ok(small) = u64::try_from(amount) {
        if let Some(product) = small.checked_mul(u64::from(ppm)) {
            return u128::from(product / 1_000_000);
        }
    }
    let ppm = u128::from(ppm);
    (amount / 1_000_000)
        .saturating_mul(ppm)
        .saturating_add((amount % 1_000_000) * ppm / 1_000_000)
}

/// `value × bits / 65536` (a Q16 product), saturating at `u128::MAX`.
#[inline]
pub fn times_bits(value: u128, bits: u32) -> u128 {
    // Fast path (every realistic value): a 64×32-bit product cannot overflow 128 bits.
    if let Ok(small) = u64::try_from(value) {
        return (u128::from(small) * u128::from(bits)) >> 16;
    }
    let bits = u128::from(bits);
    match value.checked_mul(bits) {
        Some(product) => product >> 16,
        None => (value >> 16).saturating_mul(bits),
    }
}

/// `offset × 2^(−elapsed / half_life)`, rounded down (see the module doc). A zero half-life
/// forgets at once (0 after any time, the offset itself at `elapsed = 0`).
pub fn decay(offset: u128, elapsed: u64, half_life: u64) -> u128 {
    if elapsed == 0 {
        return offset;
    }
    if half_life == 0 {
        return 0;
    }
    let whole = elapsed / half_life;
    if whole >= 128 {
        return 0;
    }
    let sixteenths = (u128::from(elapsed % half_life) * 16 / u128::from(half_life)) as usize;
    let shifted = offset >> whole;
    let factor = u128::from(DECAY_TABLE[sixteenths]);
    (shifted >> 16) * factor + (((shifted & 0xffff) * factor) >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_is_close_monotone_and_exact_on_powers_of_two() {
        for k in 0..127u32 {
            assert_eq!(log2_q16(1u128 << k), k * BIT);
        }
        let mut last = 0;
        for x in (1u128..200_000).chain([u64::MAX as u128, u128::MAX]) {
            let q = log2_q16(x);
            assert!(q >= last || x == u64::MAX as u128 || x == u128::MAX);
            last = q;
            if x < 200_000 {
                let exact = (x as f64).log2() * 65536.0;
                assert!(
                    (exact - f64::from(q)).abs() < 100.0,
                    "x={x} q={q} exact={exact}"
                );
            }
        }
        assert_eq!(log2_q16(0), 0);
    }

    #[test]
    fn failure_bits_follow_the_uniform_model() {
        assert_eq!(failure_bits(5, 0, 4), None);
        assert_eq!(failure_bits(3, 3, 10), Some(0));
        // half the outcomes of 0..=9 are ≥ 5: one bit
        assert_eq!(failure_bits(5, 0, 9), Some(BIT));
        // a quarter of 0..=1023 is ≥ 768: two bits
        assert_eq!(failure_bits(768, 0, 1023), Some(2 * BIT));
        assert_eq!(success_fraction(768, 0, 1023), (256, 1024));
        assert_eq!(success_fraction(1, 1, 5), (1, 1));
        assert_eq!(success_fraction(6, 1, 5), (0, 1));
        // near certainty rounds to (almost) nothing, never below zero
        assert!(failure_bits(1, 0, 1 << 40).unwrap() < 8);
        assert!(failure_bits(u128::MAX, 0, u128::MAX).is_some());
    }

    #[test]
    fn ppm_and_q16_products_are_exact_or_saturate() {
        assert_eq!(ppm_of(1_000_000, 1), 1);
        assert_eq!(ppm_of(999_999, 1), 0);
        assert_eq!(ppm_of(u128::MAX, 1_000_000), u128::MAX);
        assert_eq!(ppm_of(u128::MAX / 2, 2_000_000), u128::MAX - 1);
        assert_eq!(ppm_of(u128::MAX, 3_000_000), u128::MAX);
        assert_eq!(times_bits(3, 2 * BIT), 6);
        assert_eq!(times_bits(u128::MAX, 2 * BIT), u128::MAX);
    }

    #[test]
    fn decay_halves_per_half_life_and_matches_the_table() {
        for (i, &q) in DECAY_TABLE.iter().enumerate() {
            let exact = (-(i as f64) / 16.0).exp2() * 65536.0;
            assert!((exact - f64::from(q)).abs() <= 0.5, "entry {i}");
        }
        assert_eq!(decay(1000, 0, 60), 1000);
        assert_eq!(decay(1000, 60, 60), 500);
        assert_eq!(decay(1000, 120, 60), 250);
        assert_eq!(decay(1 << 20, 30, 60), 741_456); // 2^20 × 2^(−8/16), table entry 8
        assert_eq!(decay(1000, 60 * 200, 60), 0);
        assert_eq!(decay(1000, 1, 0), 0);
        assert_eq!(decay(u128::MAX, 1, 1_000_000), u128::MAX);
    }
}
