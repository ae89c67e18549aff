//! The analyzer's per-thread memo of word → term decisions (stop word, or Snowball stem).
//!
//! A transcript repeats a few thousand words millions of times, so the analyzer asks this table
//! before the stop-word lookups and the stemmer (which allocates). Its layout is what makes the
//! lookup cheap: a word of at most [`INLINE_BYTES`] bytes and its term live *inside* the slot,
//! so a hit costs one hash of two machine words, one probe into one cache line and two integer
//! compares, with no pointer to follow (a `HashMap<Box<str>, _>` paid a cache miss on the key's
//! heap allocation for nearly every token). Longer words, and words whose term would not fit,
//! are not cached: the caller computes them each time.
//!
//! Invariants:
//! - A slot's key is the word's bytes, zero-padded, with its length in the last byte; length 0
//!   marks an empty slot (the empty word is never cached).
//! - The table never holds more than three quarters of its slots; when it would, it doubles up
//!   to [`MAX_SLOTS`], and past that it is emptied (the working vocabulary refills it at once).

/// Longest word (in bytes) and longest term kept inline in a slot.
const INLINE_BYTES: usize = 15;

/// Slots at first (256 × 32 bytes = 8 KiB): enough for a query or a short prompt. A larger
/// table cost every recall and hook a zeroed allocation (and its page faults) that ingest alone
/// needs; ingest doubles it to its working size within its first messages.
const INITIAL_SLOTS: usize = 1 << 8;

/// Most slots (65,536 × 32 bytes = 2 MiB, at most 49,152 words).
const MAX_SLOTS: usize = 1 << 16;

/// Term length byte meaning "stop word: no term".
const STOP: u8 = 0xFF;

/// One cached decision: key and term inline, 32 bytes.
#[derive(Clone, Copy, Default)]
#[repr(C, align(32))]
struct Slot {
    /// The word's bytes, zero-padded; byte 15 is its length (0: empty slot).
    key: [u64; 2],
    /// The term's bytes, zero-padded; byte 15 is its length, or [`STOP`].
    term: [u8; 16],
}

/// What the cache knows about a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cached<'a> {
    /// The word's term.
    Term(&'a str),
    /// A stop word: no term.
    Stop,
    /// Not cached yet.
    Miss,
}

/// The table (see the module docs).
pub struct WordCache {
    slots: Vec<Slot>,
    len: usize,
}

impl Default for WordCache {
    fn default() -> Self {
        WordCache {
            slots: vec![Slot::default(); INITIAL_SLOTS],
            len: 0,
        }
    }
}

/// The slot key of `word`, or `None` if it is empty or too long to inline.
fn key_of(word: &str) -> Option<[u64; 2]> {
    let bytes = word.as_bytes();
    if bytes.is_empty() || bytes.len() > INLINE_BYTES {
        return None;
    }
    // Shifted into registers rather than copied through a buffer: a byte copy followed by
    // word loads stalls on store forwarding, which cost more than the probe itself.
    let mut key = [0u64; 2];
    for (i, &b) in bytes.iter().enumerate() {
        key[i / 8] |= u64::from(b) << (8 * (i % 8));
    }
    key[1] |= (bytes.len() as u64) << 56;
    Some(key)
}

fn hash(key: [u64; 2]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    (key[0].wrapping_mul(K).rotate_left(29) ^ key[1]).wrapping_mul(K)
}

impl WordCache {
    /// Index of `key`'s slot, or of the empty slot where it would go.
    fn find(&self, key: [u64; 2]) -> usize {
        let mask = self.slots.len() - 1;
        // The high bits are the best mixed.
        let mut i = (hash(key) >> 32) as usize & mask;
        loop {
            let slot = &self.slots[i];
            if slot.key == key || slot.key[1] >> 56 == 0 {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// What is cached for `word`.
    pub fn get(&self, word: &str) -> Cached<'_> {
        let Some(key) = key_of(word) else {
            return Cached::Miss;
        };
        let slot = &self.slots[self.find(key)];
        if slot.key != key {
            return Cached::Miss;
        }
        match slot.term[15] {
            STOP => Cached::Stop,
            n => {
                std::str::from_utf8(&slot.term[..usize::from(n)]).map_or(Cached::Miss, Cached::Term)
            }
        }
    }

    /// Remembers `word`'s term (`None`: a stop word). Words or terms too long to inline are
    /// not remembered.
    pub fn insert(&mut self, word: &str, term: Option<&str>) {
        let Some(key) = key_of(word) else {
            return;
        };
        let mut stored = [0u8; 16];
        match term {
            Some(t) if t.len() <= INLINE_BYTES => {
                stored[..t.len()].copy_from_slice(t.as_bytes());
                stored[15] = t.len() as u8;
            }
            Some(_) => return,
            None => stored[15] = STOP,
        }
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow_or_clear();
        }
        let i = self.find(key);
        if self.slots[i].key != key {
            self.len += 1;
        }
        self.slots[i] = Slot { key, term: stored };
    }

    /// Words cached.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    fn grow_or_clear(&mut self) {
        let old = std::mem::take(&mut self.slots);
        if old.len() >= MAX_SLOTS {
            self.slots = vec![Slot::default(); old.len()];
            self.len = 0;
            return;
        }
        self.slots = vec![Slot::default(); old.len() * 2];
        for slot in old.into_iter().filter(|s| s.key[1] >> 56 != 0) {
            let i = self.find(slot.key);
            self.slots[i] = slot;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_terms_and_stop_words() {
        let mut cache = WordCache::default();
        assert_eq!(cache.get("retries"), Cached::Miss);
        cache.insert("retries", Some("retri"));
        cache.insert("the", None);
        assert_eq!(cache.get("retries"), Cached::Term("retri"));
        assert_eq!(cache.get("the"), Cached::Stop);
        assert_eq!(cache.get("retrie"), Cached::Miss);
        assert_eq!(cache.get("retriess"), Cached::Miss);
        assert_eq!(cache.len(), 2);
        // Re-inserting replaces, it does not add.
        cache.insert("retries", Some("retry"));
        assert_eq!(cache.get("retries"), Cached::Term("retry"));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn words_that_differ_only_in_padding_or_length_are_distinct() {
        let mut cache = WordCache::default();
        cache.insert("a", Some("a"));
        cache.insert("a\0", Some("b"));
        assert_eq!(cache.get("a"), Cached::Term("a"));
        assert_eq!(cache.get("a\0"), Cached::Term("b"));
    }

    #[test]
    fn long_words_and_terms_are_not_cached() {
        let mut cache = WordCache::default();
        let long = "internationalization";
        cache.insert(long, Some("internation"));
        assert_eq!(cache.get(long), Cached::Miss);
        cache.insert("fifteen_bytes_x", Some("a_term_of_16_byt"));
        assert_eq!(cache.get("fifteen_bytes_x"), Cached::Miss);
        cache.insert("fifteen_bytes_x", Some("fifteen_bytes_x"));
        assert_eq!(
            cache.get("fifteen_bytes_x"),
            Cached::Term("fifteen_bytes_x")
        );
        assert_eq!(cache.get(""), Cached::Miss);
        cache.insert("", None);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(""), Cached::Miss);
    }

    #[test]
    fn non_ascii_words_round_trip() {
        let mut cache = WordCache::default();
        cache.insert("café", Some("café"));
        cache.insert("naïve", None);
        assert_eq!(cache.get("café"), Cached::Term("café"));
        assert_eq!(cache.get("naïve"), Cached::Stop);
    }

    #[test]
    fn grows_then_empties_when_full_and_keeps_answering_correctly() {
        let mut cache = WordCache::default();
        let word = |i: usize| format!("w{i}");
        let mut max_len = 0;
        for i in 0..(MAX_SLOTS * 2) {
            cache.insert(&word(i), Some(&word(i + 1)));
            max_len = max_len.max(cache.len());
            // The word just inserted is always there, with its own term.
            assert_eq!(cache.get(&word(i)), Cached::Term(&word(i + 1)));
        }
        assert_eq!(max_len, MAX_SLOTS * 3 / 4);
        assert!(cache.len() < MAX_SLOTS * 3 / 4);
        // Recent words are still cached and right; a word from before the last emptying is not.
        let last = MAX_SLOTS * 2 - 1;
        assert_eq!(cache.get(&word(last - 10)), Cached::Term(&word(last - 9)));
        assert_eq!(cache.get(&word(0)), Cached::Miss);
    }
}
