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
//! A slot also remembers the last *stamp* under which its word was looked up
//! ([`WordCache::get_stamped`]): the analyzer takes a new stamp for each message whose distinct
//! terms it lists, so a word repeated within the message is recognised by that one probe and
//! skipped without hashing its term again. A stamped lookup gives the term as the slot packs
//! it ([`PackedTerm`]), which is also its key in the set of terms the message listed
//! ([`crate::recall::seen_terms`]).
//!
//! Invariants:
//! - A slot's key is the word's bytes, zero-padded, with its length in the last byte; length 0
//!   marks an empty slot (the empty word is never cached).
//! - A slot's stamp is 0 (never looked up stamped) or a stamp this table gave out; stamps
//!   given out are never reused while a slot still holds one.
//! - The table never holds more than three quarters of its slots; when it would, it doubles up
//!   to [`MAX_SLOTS`], and past that it is emptied (the working vocabulary refills it at once).
//! - A word too long to inline, or whose term is, is kept in an ordinary map beside the table
//!   (at most [`MAX_LONG_WORDS`], then emptied): one string hash instead of the stemmer, which
//!   an identifier's joined form (`tmpcsepbenchcorpusrepo`) would otherwise run at every
//!   occurrence.

/// Longest word (in bytes) kept inline in a slot.
const INLINE_BYTES: usize = 15;

/// Longest term (in bytes) kept inline in a slot; a word with a longer term is not cached.
const INLINE_TERM_BYTES: usize = PackedTerm::MAX_BYTES;

/// Slots at first (256 × 32 bytes = 8 KiB): enough for a query or a short prompt. A larger
/// table cost every recall and hook a zeroed allocation (and its page faults) that ingest alone
/// needs; ingest doubles it to its working size within its first messages.
const INITIAL_SLOTS: usize = 1 << 8;

/// Most slots (65,536 × 32 bytes = 2 MiB, at most 49,152 words).
const MAX_SLOTS: usize = 1 << 16;

/// Most words kept beside the table ([`WordCache::insert`]) before it is emptied.
const MAX_LONG_WORDS: usize = 1 << 14;

/// Term length byte meaning "stop word: no term".
const STOP: u8 = 0xFF;

/// One cached decision: key, term and stamp inline, 32 bytes.
#[derive(Clone, Copy, Default)]
#[repr(C, align(32))]
struct Slot {
    /// The word's bytes, zero-padded; byte 15 is its length (0: empty slot).
    key: [u64; 2],
    /// The term; its length byte is [`STOP`] for a stop word.
    term: PackedTerm,
    /// The stamp the word was last looked up under (0: none).
    stamp: u32,
}

/// A term of at most [`PackedTerm::MAX_BYTES`] bytes packed into 12: its bytes, zero-padded,
/// then its length. Two packed terms are equal exactly when the terms are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PackedTerm([u8; 12]);

impl PackedTerm {
    /// Longest term packed.
    pub(crate) const MAX_BYTES: usize = 11;

    /// `term` packed, or `None` if it is empty or longer than [`PackedTerm::MAX_BYTES`].
    pub(crate) fn pack(term: &str) -> Option<PackedTerm> {
        let len = term.len();
        if len == 0 || len > Self::MAX_BYTES {
            return None;
        }
        let mut bytes = [0u8; 12];
        bytes[..len].copy_from_slice(term.as_bytes());
        bytes[Self::MAX_BYTES] = len as u8;
        Some(PackedTerm(bytes))
    }

    /// The term ("" for a slot's stop-word marker).
    pub(crate) fn as_str(&self) -> &str {
        self.0
            .get(..usize::from(self.0[Self::MAX_BYTES]))
            .and_then(|t| std::str::from_utf8(t).ok())
            .unwrap_or_default()
    }

    /// The 12 bytes as two words (little-endian), to hash and compare.
    pub(crate) fn words(&self) -> (u64, u32) {
        let [a, b, c, d, e, f, g, h, i, j, k, l] = self.0;
        (
            u64::from_le_bytes([a, b, c, d, e, f, g, h]),
            u32::from_le_bytes([i, j, k, l]),
        )
    }
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

/// What the cache knows about a word looked up under a stamp ([`WordCache::get_stamped`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stamped<'a> {
    /// The word's term, first looked up under this stamp.
    Term(&'a PackedTerm),
    /// A stop word: no term.
    Stop,
    /// Not cached yet.
    Miss,
    /// Looked up under the same stamp before: its term was given then.
    Repeat,
}

/// A word's slot key, computed once to prefetch its slot and look it up
/// ([`WordCache::letters_key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key([u64; 2]);

/// The table (see the module docs).
pub struct WordCache {
    slots: Vec<Slot>,
    len: usize,
    /// The last stamp given out ([`WordCache::next_stamp`]).
    stamp: u32,
    /// Words, or terms, too long to inline: word → term (`None`: a stop word).
    long: rustc_hash::FxHashMap<Box<str>, Option<Box<str>>>,
}

impl Default for WordCache {
    fn default() -> Self {
        WordCache {
            slots: vec![Slot::default(); INITIAL_SLOTS],
            len: 0,
            stamp: 0,
            long: rustc_hash::FxHashMap::default(),
        }
    }
}

impl Slot {
    fn is_stop(&self) -> bool {
        self.term.0[INLINE_TERM_BYTES] == STOP
    }

    fn cached(&self) -> Cached<'_> {
        if self.is_stop() {
            return Cached::Stop;
        }
        Cached::Term(self.term.as_str())
    }
}

/// The slot key of `word`, or `None` if it is empty or too long to inline.
fn key_of(word: &str) -> Option<[u64; 2]> {
    key_in(word.as_bytes(), 0, word.len(), 0)
}

/// The slot key of the `len` bytes at `buf[start..]`, each ORed with `or_each`, or `None` if
/// they are empty or too long to inline.
fn key_in(buf: &[u8], start: usize, len: usize, or_each: u8) -> Option<[u64; 2]> {
    if len == 0 || len > INLINE_BYTES {
        return None;
    }
    let [lo, hi] = crate::hot::padded_words(buf, start, len, or_each)?;
    Some([lo, hi | (len as u64) << 56])
}

fn hash(key: [u64; 2]) -> u64 {
    crate::hot::hash_words(key[0], key[1])
}

impl WordCache {
    /// The key of the word `line[start..end]`, which must be ASCII letters only, lowercased
    /// (`Retry` and `retry` have the same key), or `None` if it is empty or too long to inline.
    pub fn letters_key(line: &[u8], start: usize, end: usize) -> Option<Key> {
        // Setting bit 5 lowercases an ASCII letter (and leaves a lowercase one as it is).
        key_in(line, start, end.checked_sub(start)?, 0x20).map(Key)
    }

    /// Asks the CPU to bring the first slot `key` is looked for in: the table outgrows the
    /// cache, so a caller that knows the next words prefetches their slots and overlaps the
    /// misses.
    pub fn prefetch(&self, key: Key) {
        let mask = self.slots.len() - 1;
        crate::hot::prefetch(&self.slots[(hash(key.0) >> 32) as usize & mask]);
    }

    /// What is cached for the word of `key`.
    pub fn get_key(&self, key: Key) -> Cached<'_> {
        let slot = &self.slots[self.find(key.0)];
        if slot.key != key.0 {
            return Cached::Miss;
        }
        slot.cached()
    }

    /// A stamp never given out before by this table (see the module docs).
    pub fn next_stamp(&mut self) -> u32 {
        if self.stamp == u32::MAX {
            // Every stamp was given out: forget them all before starting over.
            for slot in &mut self.slots {
                slot.stamp = 0;
            }
            self.stamp = 0;
        }
        self.stamp += 1;
        self.stamp
    }

    /// [`WordCache::get_key`], and [`Stamped::Repeat`] for a word that was looked up under
    /// `stamp` before; the word is marked as looked up under `stamp`.
    pub(crate) fn get_stamped(&mut self, key: Key, stamp: u32) -> Stamped<'_> {
        let i = self.find(key.0);
        let slot = &mut self.slots[i];
        if slot.key != key.0 {
            return Stamped::Miss;
        }
        if slot.stamp == stamp {
            return Stamped::Repeat;
        }
        slot.stamp = stamp;
        if slot.is_stop() {
            return Stamped::Stop;
        }
        Stamped::Term(&slot.term)
    }

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
        let inline = match key_of(word) {
            Some(key) => self.get_key(Key(key)),
            None => Cached::Miss,
        };
        if inline != Cached::Miss || self.long.is_empty() {
            return inline;
        }
        match self.long.get(word) {
            Some(Some(term)) => Cached::Term(term),
            Some(None) => Cached::Stop,
            None => Cached::Miss,
        }
    }

    /// Remembers `word`'s term (`None`: a stop word): inline when both fit, else beside the
    /// table.
    pub fn insert(&mut self, word: &str, term: Option<&str>) {
        let Some(key) = key_of(word) else {
            return self.insert_long(word, term);
        };
        let stored = match term {
            Some(t) => match PackedTerm::pack(t) {
                Some(packed) => packed,
                None => return self.insert_long(word, term),
            },
            None => {
                let mut stop = [0u8; 12];
                stop[INLINE_TERM_BYTES] = STOP;
                PackedTerm(stop)
            }
        };
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow_or_clear();
        }
        let i = self.find(key);
        if self.slots[i].key != key {
            self.len += 1;
        }
        self.slots[i] = Slot {
            key,
            term: stored,
            stamp: 0,
        };
    }

    /// Remembers a word or term too long to inline, in the map beside the table.
    fn insert_long(&mut self, word: &str, term: Option<&str>) {
        if word.is_empty() {
            return;
        }
        if self.long.len() >= MAX_LONG_WORDS {
            self.long.clear();
        }
        self.long.insert(word.into(), term.map(Into::into));
    }

    /// Words cached.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len + self.long.len()
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

    /// [`WordCache::letters_key`] of a word alone.
    fn ascii_key(word: &[u8]) -> Option<Key> {
        WordCache::letters_key(word, 0, word.len())
    }

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
    fn words_and_terms_too_long_to_inline_are_remembered_beside_the_table() {
        let mut cache = WordCache::default();
        let long_word = "tmpcsepbenchcorpusrepo";
        let long_term = "mimuclabrila";
        assert_eq!(cache.get(long_word), Cached::Miss);
        cache.insert(long_word, Some(long_word));
        cache.insert(long_term, Some(long_term));
        cache.insert("internationalizations", None);
        assert_eq!(cache.get(long_word), Cached::Term(long_word));
        assert_eq!(cache.get(long_term), Cached::Term(long_term));
        assert_eq!(cache.get("internationalizations"), Cached::Stop);
        assert_eq!(cache.get("tmpcsepbenchcorpusrep"), Cached::Miss);
        // A word that fits with a term that fits is inline, as before.
        cache.insert("fifteen_bytes_x", Some("eleven_byte"));
        assert_eq!(cache.get("fifteen_bytes_x"), Cached::Term("eleven_byte"));
        // The empty word is never cached.
        cache.insert("", None);
        assert_eq!(cache.get(""), Cached::Miss);
        assert_eq!(cache.len(), 4);
        // The map is bounded: past its size it starts over.
        for i in 0..MAX_LONG_WORDS {
            cache.insert(&format!("averylongword{i:08}"), None);
        }
        assert!(cache.len() <= MAX_LONG_WORDS + 1);
        assert_eq!(cache.get(long_word), Cached::Miss);
    }

    #[test]
    fn an_ascii_key_is_the_key_of_the_lowercased_word() {
        let mut cache = WordCache::default();
        cache.insert("retries", Some("retri"));
        for word in ["retries", "Retries", "RETRIES"] {
            let key = ascii_key(word.as_bytes()).expect("short word");
            assert_eq!(cache.get_key(key), Cached::Term("retri"), "{word}");
        }
        assert_eq!(
            cache.get_key(ascii_key(b"retrie").expect("short word")),
            Cached::Miss
        );
        assert_eq!(ascii_key(b""), None);
        assert_eq!(ascii_key(b"sixteen_letters_"), None);
    }

    #[test]
    fn a_letters_key_read_in_place_equals_the_ascii_key() {
        let line = b"a Retries HTTP lowercase abcdefghijklmno ABCDEFGHIJKLMNOP zz";
        let mut start = 0;
        for word in line.split(|&b| b == b' ') {
            let end = start + word.len();
            assert_eq!(
                WordCache::letters_key(line, start, end),
                ascii_key(word),
                "{}",
                String::from_utf8_lossy(word)
            );
            start = end + 1;
        }
        assert_eq!(WordCache::letters_key(line, 2, 2), None);
    }

    #[test]
    fn a_word_looked_up_twice_under_one_stamp_is_a_repeat() {
        let mut cache = WordCache::default();
        cache.insert("retries", Some("retri"));
        cache.insert("the", None);
        let key = |w: &str| ascii_key(w.as_bytes()).expect("short word");
        let first = cache.next_stamp();
        let retri = PackedTerm::pack("retri").expect("short term");
        assert_eq!(
            cache.get_stamped(key("retries"), first),
            Stamped::Term(&retri)
        );
        assert_eq!(cache.get_stamped(key("Retries"), first), Stamped::Repeat);
        assert_eq!(cache.get_stamped(key("the"), first), Stamped::Stop);
        assert_eq!(cache.get_stamped(key("the"), first), Stamped::Repeat);
        assert_eq!(cache.get_stamped(key("retry"), first), Stamped::Miss);
        // A plain lookup neither reads nor moves the stamp.
        assert_eq!(cache.get_key(key("retries")), Cached::Term("retri"));
        let second = cache.next_stamp();
        assert_ne!(first, second);
        assert_eq!(
            cache.get_stamped(key("retries"), second),
            Stamped::Term(&retri)
        );
        assert_eq!(cache.get_stamped(key("retries"), second), Stamped::Repeat);
        // Re-inserting a word clears its stamp.
        cache.insert("retries", Some("retry"));
        let retry = PackedTerm::pack("retry").expect("short term");
        assert_eq!(
            cache.get_stamped(key("retries"), second),
            Stamped::Term(&retry)
        );
    }

    #[test]
    fn stamps_start_over_without_a_stale_repeat() {
        let mut cache = WordCache::default();
        cache.insert("retries", Some("retri"));
        let key = ascii_key(b"retries").expect("short word");
        cache.stamp = u32::MAX - 1;
        let last = cache.next_stamp();
        assert_eq!(last, u32::MAX);
        let retri = PackedTerm::pack("retri").expect("short term");
        assert_eq!(cache.get_stamped(key, last), Stamped::Term(&retri));
        let wrapped = cache.next_stamp();
        assert_eq!(wrapped, 1);
        assert_eq!(cache.get_stamped(key, wrapped), Stamped::Term(&retri));
        assert_eq!(cache.get_stamped(key, wrapped), Stamped::Repeat);
    }

    #[test]
    fn a_packed_term_round_trips_and_equals_only_the_same_term() {
        for term in ["a", "retri", "0123456789a", "订单"] {
            let packed = PackedTerm::pack(term).expect("short term");
            assert_eq!(packed.as_str(), term);
            assert_eq!(PackedTerm::pack(term), Some(packed));
        }
        assert_eq!(PackedTerm::pack(""), None);
        assert_eq!(PackedTerm::pack("0123456789ab"), None);
        let words = |t: &str| PackedTerm::pack(t).expect("short term").words();
        assert_ne!(words("a"), words("a\0"));
        assert_ne!(words("ab"), words("ba"));
        assert_ne!(words("0123456789a"), words("0123456789b"));
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
