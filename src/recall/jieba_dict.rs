//! The Chinese dictionary csep segments with, and segmenters that load only what a text needs.
//!
//! jieba builds its whole dictionary (349,045 words) before it cuts anything: about 200 ms and
//! 40 MiB, which a hook answering a Chinese prompt cannot spend. But jieba looks a word up only
//! where it could occur: every lookup while cutting a run (the words starting at each
//! character, the run of single characters the HMM may join, the 2- and 3-character parts
//! search mode adds) asks about a substring of that run. So a segmenter loaded with just the
//! dictionary words that occur in the text cuts it exactly as the full one does, provided its
//! total frequency, which every word's probability is divided by, is the full dictionary's;
//! one filler entry that can never match makes up the difference ([`segmenter_for`]).
//!
//! The words are found by binary search over [`DICT`], csep's copy of jieba-rs 0.11.0's
//! dictionary sorted by their bytes (`scripts/jieba-dict.py` writes it), so nothing is built
//! for the lookup either. The same copy loads the full segmenter ([`full_segmenter`]) that
//! long texts (ingest) use, so both sides of the index use one dictionary.

use std::collections::HashSet;

use jieba_rs::Jieba;

/// jieba-rs 0.11.0's dictionary, one `word frequency` line per word (its part-of-speech tags
/// dropped), sorted by the words' UTF-8 bytes. A space sorts below every byte of a word, so
/// the lines sort as their words do.
static DICT: &str = include_str!("jieba_dict.txt");

/// The sum of [`DICT`]'s frequencies: jieba's `total`, by which it divides each word's
/// frequency (checked against the file by a test).
pub(crate) const DICT_TOTAL: usize = 60_101_964;

/// The longest word of [`DICT`], in characters (checked by a test): no longer substring of a
/// text needs looking up.
pub(crate) const MAX_WORD_CHARS: usize = 16;

/// The filler entry of a [`segmenter_for`] segmenter. It holds the frequency of every word
/// the text does not contain, so the segmenter's total equals [`DICT_TOTAL`]; a private-use
/// character, it never occurs in a run of CJK text (a text that holds it gets the full
/// segmenter instead).
const FILLER: &str = "\u{e000}";

/// The frequency of `word` in [`DICT`], by binary search over its lines.
pub(crate) fn frequency(word: &str) -> Option<usize> {
    let bytes = DICT.as_bytes();
    // `lo` is always the start of a line and `hi` the start of a line or the end of the text.
    let (mut lo, mut hi) = (0, bytes.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let start = memchr::memrchr(b'\n', &bytes[lo..mid]).map_or(lo, |p| lo + p + 1);
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |p| start + p);
        let (entry, freq) = DICT[start..end].split_once(' ')?;
        match entry.as_bytes().cmp(word.as_bytes()) {
            std::cmp::Ordering::Equal => return freq.parse().ok(),
            std::cmp::Ordering::Less => lo = end + 1,
            std::cmp::Ordering::Greater => hi = start,
        }
    }
    None
}

/// A segmenter that cuts `text` exactly as [`full_segmenter`] does, holding only the
/// dictionary words that occur in `text` (see the module docs). Building it costs a few
/// binary searches per character, so it suits a query or a prompt, not a transcript.
pub(crate) fn segmenter_for(text: &str) -> Jieba {
    if text.contains(FILLER) {
        return full_segmenter();
    }
    let mut jieba = Jieba::empty();
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect();
    let mut seen = HashSet::new();
    let mut found = 0;
    for (i, &start) in bounds.iter().enumerate() {
        for &end in bounds.iter().skip(i + 1).take(MAX_WORD_CHARS) {
            let word = &text[start..end];
            if !seen.insert(word) {
                continue;
            }
            if let Some(freq) = frequency(word) {
                jieba.add_word(word, Some(freq), Some(""));
                found += freq;
            }
        }
    }
    jieba.add_word(FILLER, Some(DICT_TOTAL.saturating_sub(found)), Some(""));
    jieba
}

/// The segmenter with every word of [`DICT`] (about 200 ms and 40 MiB to build).
pub(crate) fn full_segmenter() -> Jieba {
    let mut jieba = Jieba::empty();
    for line in DICT.lines() {
        if let Some((word, freq)) = line.split_once(' ') {
            jieba.add_word(word, Some(freq.parse().unwrap_or(0)), Some(""));
        }
    }
    jieba
}

#[cfg(test)]
#[path = "jieba_dict_tests.rs"]
mod tests;
