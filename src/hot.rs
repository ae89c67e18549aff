//! Helpers of the ingest's hot loops, shared by the analyzer's word cache
//! ([`crate::recall::word_cache`]), its set of a message's terms
//! ([`crate::recall::seen_terms`]) and the archive's term table ([`crate::archive::index`]):
//! all keep short strings inline in table slots, key them by their bytes packed into machine
//! words, hash those words the same way, and look them up in tables that may outgrow the
//! CPU's caches.

/// Asks the CPU to bring `value`'s cache line in, without waiting for it: a caller that knows
/// its next lookups prefetches their slots so that their misses overlap.
#[inline]
pub(crate) fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it reads nothing the program sees and never faults,
    // and SSE (which it needs) is part of every x86-64 target.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(value).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// A hash of two words for the open-addressing tables of short strings (multiply, rotate,
/// mix, multiply): the high bits are the best mixed, so callers index by them.
#[inline]
pub(crate) fn hash_words(lo: u64, hi: u64) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    (lo.wrapping_mul(K).rotate_left(29) ^ hi).wrapping_mul(K)
}

/// The `len` bytes at `buf[start..]`, each ORed with `or_each`, packed little-endian into two
/// words and zero-padded; `None` if `len` is over 16 or runs past `buf`. Read with two word
/// loads when `buf` holds 16 bytes from `start` (the bytes past `len` are masked off), byte by
/// byte otherwise.
#[inline]
pub(crate) fn padded_words(buf: &[u8], start: usize, len: usize, or_each: u8) -> Option<[u64; 2]> {
    if len > 16 {
        return None;
    }
    if let Some(chunk) = buf.get(start..start + 16) {
        let splat = u64::from(or_each) * 0x0101_0101_0101_0101;
        let mask = |n: usize| {
            if n >= 8 {
                u64::MAX
            } else {
                (1u64 << (8 * n)) - 1
            }
        };
        let (lo, hi) = chunk.split_at(8);
        let lo = u64::from_le_bytes(lo.try_into().ok()?) | splat;
        let hi = u64::from_le_bytes(hi.try_into().ok()?) | splat;
        return Some([lo & mask(len), hi & mask(len.saturating_sub(8))]);
    }
    let mut words = [0u64; 2];
    for (i, &b) in buf.get(start..start.checked_add(len)?)?.iter().enumerate() {
        words[i / 8] |= u64::from(b | or_each) << (8 * (i % 8));
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_loads_and_the_byte_loop_pack_the_same_words() {
        let buf = b"abcdefghijklmnopqrstuvwxyz";
        for start in 0..buf.len() {
            for len in 0..=(buf.len() - start).min(16) {
                let mut want = [0u64; 2];
                for (i, &b) in buf[start..start + len].iter().enumerate() {
                    want[i / 8] |= u64::from(b ^ 0x20) << (8 * (i % 8));
                }
                let upper: Vec<u8> = buf.iter().map(u8::to_ascii_uppercase).collect();
                // Near the end of the buffer the byte loop runs; elsewhere the word loads.
                assert_eq!(
                    padded_words(&upper, start, len, 0x00).map(|w| [w[0], w[1]]),
                    Some(want),
                    "{start} {len}"
                );
                let lower = padded_words(&upper, start, len, 0x20);
                let plain = padded_words(buf, start, len, 0);
                assert_eq!(lower, plain, "{start} {len}");
            }
        }
        assert_eq!(padded_words(buf, 0, 17, 0), None);
        assert_eq!(padded_words(buf, 20, 7, 0), None);
    }
}
