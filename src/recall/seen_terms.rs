//! The set of terms one text has listed so far, for the analyzer's distinct-terms sink: asked
//! once per term an archived message yields (millions per large ingest), nearly always with a
//! term not seen yet.
//!
//! A term of at most [`PackedTerm::MAX_BYTES`] bytes (nearly all of them) is its own key: its
//! bytes packed into a word and a half, as the word cache keeps it ([`PackedTerm`]). Slots are
//! 16 bytes, the key and a *stamp*: the text the term was listed for. A new text takes a new
//! stamp instead of emptying the table, so a slot stamped for an earlier text counts as empty.
//! A hash map of byte ranges, emptied per text and checked by comparing bytes, cost several
//! times more per term. Longer terms go to such a map still.
//!
//! Invariants:
//! - Within one stamp, slots are only added, never removed, so a probe that reaches a slot not
//!   stamped with the current stamp has seen every slot the term could be in.
//! - At most three quarters of the slots hold the current stamp; past that the table doubles,
//!   keeping the current text's terms. A table grown past [`MAX_KEPT_SLOTS`] by one huge text
//!   starts the next text at its first size.

use std::collections::HashMap;
use std::hash::BuildHasher;

use rustc_hash::FxBuildHasher;

use crate::recall::word_cache::PackedTerm;

/// Slots a table starts with (4,096 × 16 bytes = 64 KiB): a message of code or prose lists a
/// few hundred terms, and the table stays in the CPU's cache.
const INITIAL_SLOTS: usize = 1 << 12;

/// Slots a grown table may keep for the next text (1 MiB).
const MAX_KEPT_SLOTS: usize = 1 << 16;

/// One listed term: its packed bytes and the stamp of the text that listed it (0: never).
#[derive(Clone, Copy, Default)]
#[repr(C, align(16))]
struct Slot {
    head: u64,
    tail: u32,
    stamp: u32,
}

/// Terms listed by the current text (see the module docs).
pub(crate) struct SeenTerms {
    slots: Vec<Slot>,
    /// Slots holding the current stamp.
    used: usize,
    stamp: u32,
    /// Terms too long to pack: a hash of the term → where the list holds its first occurrence.
    long: HashMap<u64, (usize, usize), FxBuildHasher>,
}

impl Default for SeenTerms {
    fn default() -> Self {
        SeenTerms {
            slots: vec![Slot::default(); INITIAL_SLOTS],
            used: 0,
            stamp: 1,
            long: HashMap::default(),
        }
    }
}

impl SeenTerms {
    /// Forgets every term: the next text starts with none.
    pub(crate) fn start_text(&mut self) {
        if self.slots.len() > MAX_KEPT_SLOTS {
            *self = SeenTerms::default();
            return;
        }
        if self.stamp == u32::MAX {
            // Every stamp was used: clear them all before starting over.
            self.slots.fill(Slot::default());
            self.stamp = 0;
        }
        self.stamp += 1;
        self.used = 0;
        if !self.long.is_empty() {
            self.long.clear();
        }
    }

    /// Records the packed `term`; whether it is new to the current text.
    pub(crate) fn insert_packed(&mut self, term: &PackedTerm) -> bool {
        let (head, tail) = term.words();
        if (self.used + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = (hash(head, tail) >> 32) as usize & mask;
        loop {
            let slot = &mut self.slots[i];
            if slot.stamp != self.stamp {
                *slot = Slot {
                    head,
                    tail,
                    stamp: self.stamp,
                };
                self.used += 1;
                return true;
            }
            if slot.head == head && slot.tail == tail {
                return false;
            }
            i = (i + 1) & mask;
        }
    }

    /// Records `term`, which the list `text` is about to hold at `start..` unless it is a
    /// repeat; whether it is new to the current text. `text` holds the terms listed before.
    pub(crate) fn insert(&mut self, term: &str, text: &str, start: usize) -> bool {
        if let Some(packed) = PackedTerm::pack(term) {
            return self.insert_packed(&packed);
        }
        let hash = FxBuildHasher.hash_one(term);
        if let Some(&(from, to)) = self.long.get(&hash)
            && text.get(from..to) == Some(term)
        {
            return false;
        }
        // On a (vanishingly rare) hash collision the first term keeps the entry: the other is
        // then listed again when repeated, which costs a duplicate, never a lost term.
        self.long.entry(hash).or_insert((start, start + term.len()));
        true
    }

    fn grow(&mut self) {
        let old = std::mem::take(&mut self.slots);
        self.slots = vec![Slot::default(); old.len() * 2];
        let mask = self.slots.len() - 1;
        for slot in old.into_iter().filter(|s| s.stamp == self.stamp) {
            let mut i = (hash(slot.head, slot.tail) >> 32) as usize & mask;
            while self.slots[i].stamp == self.stamp {
                i = (i + 1) & mask;
            }
            self.slots[i] = slot;
        }
    }
}

fn hash(head: u64, tail: u32) -> u64 {
    crate::hot::hash_words(head, u64::from(tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inserts `term` as the list would: `text` is the list so far.
    fn insert(seen: &mut SeenTerms, text: &mut String, term: &str) -> bool {
        let start = text.len() + usize::from(!text.is_empty());
        let new = seen.insert(term, text, start);
        if new {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(term);
        }
        new
    }

    #[test]
    fn a_term_is_new_once_per_text_short_or_long() {
        let mut seen = SeenTerms::default();
        let mut text = String::new();
        for term in [
            "retri",
            "a_term_far_too_long_to_pack",
            "订单",
            "0123456789a",
        ] {
            assert!(insert(&mut seen, &mut text, term), "{term}");
            assert!(!insert(&mut seen, &mut text, term), "{term}");
        }
        // Terms that differ only in length or padding are different terms.
        assert!(insert(&mut seen, &mut text, "retr"));
        assert!(insert(&mut seen, &mut text, "retri\0"));
        assert!(insert(&mut seen, &mut text, "0123456789ab"));
        seen.start_text();
        text.clear();
        for term in ["retri", "a_term_far_too_long_to_pack", "订单"] {
            assert!(insert(&mut seen, &mut text, term), "{term}");
            assert!(!insert(&mut seen, &mut text, term), "{term}");
        }
    }

    #[test]
    fn a_text_with_more_terms_than_the_table_grows_it_and_keeps_every_term() {
        let mut seen = SeenTerms::default();
        let mut text = String::new();
        let terms: Vec<String> = (0..INITIAL_SLOTS * 3).map(|i| format!("t{i}")).collect();
        for term in &terms {
            assert!(insert(&mut seen, &mut text, term), "{term}");
        }
        assert!(seen.slots.len() > INITIAL_SLOTS);
        for term in &terms {
            assert!(!insert(&mut seen, &mut text, term), "{term}");
        }
        // The next text sees none of them, in the grown table.
        seen.start_text();
        text.clear();
        assert!(insert(&mut seen, &mut text, "t7"));
    }

    #[test]
    fn a_table_grown_past_the_kept_size_starts_the_next_text_small() {
        let mut seen = SeenTerms::default();
        let mut text = String::new();
        for i in 0..MAX_KEPT_SLOTS {
            insert(&mut seen, &mut text, &format!("t{i}"));
        }
        assert!(seen.slots.len() > MAX_KEPT_SLOTS);
        seen.start_text();
        assert_eq!(seen.slots.len(), INITIAL_SLOTS);
        text.clear();
        assert!(insert(&mut seen, &mut text, "t1"));
    }

    #[test]
    fn stamps_start_over_without_a_stale_repeat() {
        let mut seen = SeenTerms::default();
        let mut text = String::new();
        seen.stamp = u32::MAX - 1;
        seen.start_text();
        assert_eq!(seen.stamp, u32::MAX);
        assert!(insert(&mut seen, &mut text, "retri"));
        seen.start_text();
        assert_eq!(seen.stamp, 1);
        text.clear();
        assert!(insert(&mut seen, &mut text, "retri"));
        assert!(!insert(&mut seen, &mut text, "retri"));
    }
}
