//! Exact and near-duplicate detection: text normalization, word and CJK-character shingles,
//! Jaccard similarity, and an in-memory [`ShingleIndex`] built once per compile run.
//!
//! The reference implementation only deduped exactly equal content, and its audit found zero
//! exact duplicates but many near-duplicates (lessons §3.1). Here an added entry is compared
//! with every active entry of its scope by shingle Jaccard similarity.
//!
//! Invariant: [`ShingleIndex::most_similar`] returns exactly what a linear scan over every
//! indexed document would return for the same threshold (ties broken by the lowest key), but
//! probes only the rarest shingles of the query (prefix filtering): if `J(A, B) >= t` then
//! `|A ∩ B| >= t·|A|`, so `B` must contain one of the `|A| - ceil(t·|A|) + 1` rarest shingles of
//! `A`. This keeps a compile over a 10k-entry store from rescanning the store per operation.

use rustc_hash::FxHashMap as HashMap;

/// Lowercases `text`, turns every character that is not a letter or digit into a space and
/// collapses whitespace: the key of exact dedupe.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.extend(c.to_lowercase());
        } else {
            pending_space = true;
        }
    }
    out
}

/// Whether `c` is a CJK ideograph, kana or hangul syllable (scripts written without spaces).
pub fn is_cjk(c: char) -> bool {
    matches!(u32::from(c),
        0x3040..=0x30FF      // hiragana, katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xAC00..=0xD7AF    // hangul syllables
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0x20000..=0x2EBEF) // CJK extensions B–F
}

/// The shingles of `text`: each Latin (non-CJK) word of the normalized text, and each pair of
/// adjacent CJK characters (a lone CJK character is its own shingle). Sorted, without repeats.
pub fn shingles(text: &str) -> Vec<String> {
    let normalized = normalize(text);
    shingle_slices(&normalized)
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// [`shingles`] of an already [`normalize`]d text, as slices of it (no allocation per
/// shingle). Sorted (byte order, as `String`s sort), without repeats.
pub fn shingle_slices(normalized: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for token in normalized.split(' ').filter(|t| !t.is_empty()) {
        // Byte ranges within `token`: the current Latin word and the current CJK run.
        let mut word: Option<usize> = None;
        let mut cjk: Vec<(usize, usize)> = Vec::new();
        for (i, c) in token.char_indices() {
            if is_cjk(c) {
                if let Some(start) = word.take() {
                    out.push(&token[start..i]);
                }
                cjk.push((i, i + c.len_utf8()));
            } else {
                flush_cjk_slices(token, &mut cjk, &mut out);
                word.get_or_insert(i);
            }
        }
        if let Some(start) = word {
            out.push(&token[start..]);
        }
        flush_cjk_slices(token, &mut cjk, &mut out);
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn flush_cjk_slices<'a>(token: &'a str, run: &mut Vec<(usize, usize)>, out: &mut Vec<&'a str>) {
    match run.len() {
        0 => {}
        1 => out.push(&token[run[0].0..run[0].1]),
        _ => {
            for pair in run.windows(2) {
                out.push(&token[pair[0].0..pair[1].1]);
            }
        }
    }
    run.clear();
}

/// Jaccard similarity of two shingle sets (sorted, no repeats); 0 when both are empty.
pub fn jaccard(a: &[String], b: &[String]) -> f64 {
    let (mut i, mut j, mut inter) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                inter += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - inter;
    if union == 0 {
        0.0
    } else {
        inter as f64 / union as f64
    }
}

#[derive(Debug)]
struct Doc {
    key: String,
    normalized: String,
    /// Interned shingle ids, sorted.
    shingles: Vec<u32>,
}

/// An in-memory index of documents (memory entries of one scope) for exact and near-duplicate
/// lookups. Built from the store at the start of a compile run and updated as operations apply.
#[derive(Debug, Default)]
pub struct ShingleIndex {
    interner: HashMap<Box<str>, u32>,
    /// Shingle id → document slots containing it (slots of removed documents are skipped).
    postings: Vec<Vec<usize>>,
    docs: Vec<Option<Doc>>,
    by_key: HashMap<String, usize>,
    /// Normalized text → keys with that text.
    exact: HashMap<String, Vec<String>>,
    /// Per slot, the query epoch that last visited it (dedupes candidates without hashing).
    visited: Vec<u32>,
    epoch: u32,
    /// Per slot, shared shingles counted by the current query (dense, reset after each query).
    counts: Vec<u16>,
    /// Per slot, the document's shingle count (0 once removed): bounds checks without
    /// touching the document.
    lens: Vec<u16>,
}

/// A near-duplicate match.
#[derive(Debug, Clone, PartialEq)]
pub struct Similar {
    /// Key of the indexed document.
    pub key: String,
    /// Its Jaccard similarity with the query.
    pub score: f64,
}

impl ShingleIndex {
    /// An empty index.
    pub fn new() -> ShingleIndex {
        ShingleIndex::default()
    }

    /// Number of live documents.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether no document is indexed.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Indexes `text` under `key`, replacing what `key` had.
    pub fn insert(&mut self, key: &str, text: &str) {
        self.remove(key);
        let slot = self.docs.len();
        let normalized = normalize(text);
        let mut ids: Vec<u32> = shingle_slices(&normalized)
            .into_iter()
            .map(|s| self.intern(s))
            .collect();
        ids.sort_unstable();
        for &id in &ids {
            if let Some(list) = self.postings.get_mut(id as usize) {
                list.push(slot);
            }
        }
        self.exact
            .entry(normalized.clone())
            .or_default()
            .push(key.to_owned());
        self.lens.push(u16::try_from(ids.len()).unwrap_or(u16::MAX));
        self.docs.push(Some(Doc {
            key: key.to_owned(),
            normalized,
            shingles: ids,
        }));
        self.by_key.insert(key.to_owned(), slot);
    }

    /// Removes `key` (no-op when absent).
    pub fn remove(&mut self, key: &str) {
        let Some(slot) = self.by_key.remove(key) else {
            return;
        };
        if let Some(len) = self.lens.get_mut(slot) {
            *len = 0;
        }
        if let Some(doc) = self.docs.get_mut(slot).and_then(Option::take)
            && let Some(keys) = self.exact.get_mut(&doc.normalized)
        {
            keys.retain(|k| k != key);
            if keys.is_empty() {
                self.exact.remove(&doc.normalized);
            }
        }
    }

    /// The lowest key whose normalized text equals `text`'s, if any.
    pub fn exact(&self, text: &str) -> Option<&str> {
        self.exact
            .get(&normalize(text))
            .and_then(|keys| keys.iter().min())
            .map(String::as_str)
    }

    /// The most similar document with Jaccard similarity `>= threshold` (ties: lowest key).
    ///
    /// Counts shared shingles per document over the query's postings in a dense array (exact
    /// intersection sizes, no per-candidate verification). Shingles in more than 1/20 of the
    /// documents (stop words) are not counted; candidates are then verified exactly, and a
    /// query made mostly of such shingles falls back to prefix filtering. Either way the answer
    /// is that of a linear scan.
    pub fn most_similar(&mut self, text: &str, threshold: f64) -> Option<Similar> {
        let normalized = normalize(text);
        let query = shingle_slices(&normalized);
        if query.is_empty() {
            return None;
        }
        let n = query.len();
        let cap = (self.docs.len() / 20).max(64);
        let mut query_ids: Vec<u32> = query
            .iter()
            .filter_map(|s| self.interner.get(*s).copied())
            .collect();
        query_ids.sort_unstable();
        let skipped = query_ids
            .iter()
            .filter(|&&id| self.postings[id as usize].len() > cap)
            .count();
        // Any match shares at least t·|A| shingles, so it shares a counted one unless the
        // skipped (frequent) shingles alone could reach that.
        let min_overlap = ((threshold * n as f64) - 1e-9).ceil().max(1.0) as usize;
        if skipped >= min_overlap {
            return self.most_similar_by_prefix(&query, threshold);
        }
        self.counts.resize(self.docs.len(), 0);
        let mut touched: Vec<usize> = Vec::new();
        for &id in &query_ids {
            let list = &self.postings[id as usize];
            if list.len() > cap {
                continue;
            }
            for &slot in list {
                if self.counts[slot] == 0 {
                    touched.push(slot);
                }
                self.counts[slot] = self.counts[slot].saturating_add(1);
            }
        }
        let mut best: Option<Similar> = None;
        for slot in touched {
            let counted = usize::from(std::mem::take(&mut self.counts[slot]));
            let len = usize::from(self.lens[slot]);
            if len == 0 {
                continue;
            }
            // A match needs |A∩B| >= t(|A|+|B|)/(1+t); `counted` is at least 1 here, so for the
            // integer overlap `x < max(ceil(y), 1)` is `x < y` (no `ceil` for most candidates).
            let bound = (threshold * (n + len) as f64 / (1.0 + threshold)) - 1e-9;
            if ((counted + skipped) as f64) < bound {
                continue;
            }
            let need = bound.ceil().max(1.0) as usize;
            let Some(Some(doc)) = self.docs.get(slot) else {
                continue;
            };
            let inter = if skipped == 0 && counted < usize::from(u16::MAX) {
                counted
            } else {
                match overlap_at_least(&query_ids, &doc.shingles, need) {
                    Some(inter) => inter,
                    None => continue,
                }
            };
            let union = n + doc.shingles.len() - inter;
            let score = inter as f64 / union as f64;
            if score + 1e-12 < threshold {
                continue;
            }
            let better = match &best {
                None => true,
                Some(b) => {
                    score > b.score + 1e-12 || ((score - b.score).abs() <= 1e-12 && doc.key < b.key)
                }
            };
            if better {
                best = Some(Similar {
                    key: doc.key.clone(),
                    score,
                });
            }
        }
        best
    }

    /// [`most_similar`](Self::most_similar) by prefix filtering (see the module docs).
    fn most_similar_by_prefix(&mut self, query: &[&str], threshold: f64) -> Option<Similar> {
        // Known shingles with their document frequency; unknown ones match nothing.
        let mut known: Vec<(usize, u32)> = Vec::with_capacity(query.len());
        let mut unknown = 0usize;
        for s in query {
            match self.interner.get(*s) {
                Some(&id) => known.push((self.postings[id as usize].len(), id)),
                None => unknown += 1,
            }
        }
        let n = query.len();
        // Smallest overlap a match needs, minus a hair so float rounding never drops one.
        let need = ((threshold * n as f64) - 1e-9).ceil().max(1.0) as usize;
        let prefix = (n + 1).saturating_sub(need);
        if prefix <= unknown {
            // Even the unknown shingles alone exceed what a match may miss.
            return None;
        }
        known.sort_unstable();
        let mut query_ids: Vec<u32> = known.iter().map(|&(_, id)| id).collect();
        query_ids.sort_unstable();
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.visited.iter_mut().for_each(|v| *v = 0);
            self.epoch = 1;
        }
        self.visited.resize(self.docs.len(), 0);
        let mut best: Option<Similar> = None;
        for &(_, id) in known.iter().take(prefix - unknown) {
            for &slot in &self.postings[id as usize] {
                if self.visited[slot] == self.epoch {
                    continue;
                }
                self.visited[slot] = self.epoch;
                let Some(Some(doc)) = self.docs.get(slot) else {
                    continue;
                };
                // Smallest overlap for J >= t with this document: |A∩B| >= t(|A|+|B|)/(1+t).
                let total = (n + doc.shingles.len()) as f64;
                let need = ((threshold * total / (1.0 + threshold)) - 1e-9)
                    .ceil()
                    .max(1.0) as usize;
                let Some(inter) = overlap_at_least(&query_ids, &doc.shingles, need) else {
                    continue;
                };
                let union = n + doc.shingles.len() - inter;
                let score = if union == 0 {
                    0.0
                } else {
                    inter as f64 / union as f64
                };
                if score + 1e-12 < threshold {
                    continue;
                }
                let better = match &best {
                    None => true,
                    Some(b) => {
                        score > b.score + 1e-12
                            || ((score - b.score).abs() <= 1e-12 && doc.key < b.key)
                    }
                };
                if better {
                    best = Some(Similar {
                        key: doc.key.clone(),
                        score,
                    });
                }
            }
        }
        best
    }

    fn intern(&mut self, shingle: &str) -> u32 {
        if let Some(&id) = self.interner.get(shingle) {
            return id;
        }
        let id = u32::try_from(self.postings.len()).unwrap_or(u32::MAX);
        self.postings.push(Vec::new());
        self.interner.insert(shingle.into(), id);
        id
    }
}

/// The size of `a ∩ b` (both sorted) if it reaches `need`; stops as soon as it cannot.
fn overlap_at_least(a: &[u32], b: &[u32], need: usize) -> Option<usize> {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        if n + (a.len() - i).min(b.len() - j) < need {
            return None;
        }
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    (n >= need).then_some(n)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::punctuation_and_case(
        "Use `cargo nextest`, NOT cargo test!",
        "use cargo nextest not cargo test"
    )]
    #[case::cjk_kept("订单超时：重试 3 次", "订单超时 重试 3 次")]
    #[case::empty("  ...  ", "")]
    fn normalize_lowercases_and_drops_punctuation(#[case] input: &str, #[case] want: &str) {
        assert_eq!(normalize(input), want);
    }

    #[test]
    fn shingles_are_words_for_latin_and_character_pairs_for_cjk() {
        assert_eq!(shingles("Run the tests"), ["run", "tests", "the"]);
        assert_eq!(shingles("订单超时"), ["单超", "订单", "超时"]);
        assert_eq!(shingles("用 cargo测试"), ["cargo", "测试", "用"]);
    }

    #[test]
    fn near_duplicates_score_high_and_unrelated_text_low() {
        let a = shingles("Always run cargo fmt before committing changes");
        let b = shingles("Always run cargo fmt before committing any changes");
        let c = shingles("The API server lives in services/api");
        assert!(jaccard(&a, &b) >= 0.8, "{}", jaccard(&a, &b));
        assert!(jaccard(&a, &c) < 0.2);
        let zh1 = shingles("提交代码前先运行格式化检查");
        let zh2 = shingles("提交代码之前先运行格式化检查");
        assert!(jaccard(&zh1, &zh2) >= 0.7, "{}", jaccard(&zh1, &zh2));
    }

    #[test]
    fn prefix_filtered_lookup_agrees_with_a_linear_scan() {
        let texts = [
            "always run cargo fmt before committing",
            "run cargo fmt before every commit",
            "the api lives in services api",
            "prefer small focused commits",
            "cargo fmt must pass in ci",
            "提交前运行格式化",
            "提交之前运行格式化检查",
        ];
        let mut index = ShingleIndex::new();
        for (i, t) in texts.iter().enumerate() {
            index.insert(&format!("k{i}"), t);
        }
        let queries = [
            "always run cargo fmt before committing code",
            "run cargo fmt before commit",
            "提交前运行格式化检查",
            "nothing in common here",
        ];
        for threshold in [0.3, 0.5, 0.7, 0.9, 1.0] {
            for q in queries {
                let qs = shingles(q);
                let linear = texts
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (format!("k{i}"), jaccard(&qs, &shingles(t))))
                    .filter(|(_, s)| *s + 1e-12 >= threshold)
                    .fold(None::<(String, f64)>, |best, (k, s)| match best {
                        Some((bk, bs)) if bs > s + 1e-12 || ((bs - s).abs() <= 1e-12 && bk < k) => {
                            Some((bk, bs))
                        }
                        _ => Some((k, s)),
                    });
                let got = index.most_similar(q, threshold).map(|s| (s.key, s.score));
                assert_eq!(got, linear, "query {q:?} at {threshold}");
            }
        }
    }

    #[test]
    fn frequent_shingles_take_the_verified_and_fallback_paths_with_the_same_answers() {
        // 200 documents share "the" and "service" (frequent: above the 64-document cap).
        let texts: Vec<String> = (0..200)
            .map(|i| format!("the service w{i} listens on w{} port", i % 7))
            .collect();
        let mut index = ShingleIndex::new();
        for (i, t) in texts.iter().enumerate() {
            index.insert(&format!("k{i:03}"), t);
        }
        let queries = [
            "the service w5 listens on w5 port",
            "the service w42 listens",
            "the service",
            "service w199 port",
            "nothing here",
        ];
        for threshold in [0.3, 0.5, 0.7, 0.9] {
            for q in queries {
                let qs = shingles(q);
                let linear = texts
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (format!("k{i:03}"), jaccard(&qs, &shingles(t))))
                    .filter(|(_, s)| *s + 1e-12 >= threshold)
                    .fold(None::<(String, f64)>, |best, (k, s)| match best {
                        Some((bk, bs)) if bs > s + 1e-12 || ((bs - s).abs() <= 1e-12 && bk < k) => {
                            Some((bk, bs))
                        }
                        _ => Some((k, s)),
                    });
                let got = index.most_similar(q, threshold).map(|s| (s.key, s.score));
                assert_eq!(got, linear, "query {q:?} at {threshold}");
            }
        }
    }

    /// The answer of an exhaustive scan over `docs` (key, shingles).
    fn linear(docs: &BTreeMap<String, Vec<String>>, q: &str, t: f64) -> Option<(String, f64)> {
        let qs = shingles(q);
        docs.iter()
            .map(|(k, s)| (k.clone(), jaccard(&qs, s)))
            .filter(|(_, s)| *s + 1e-12 >= t)
            .fold(None, |best, (k, s)| match best {
                Some((bk, bs)) if bs > s + 1e-12 || ((bs - s).abs() <= 1e-12 && bk < k) => {
                    Some((bk, bs))
                }
                _ => Some((k, s)),
            })
    }

    #[test]
    fn the_index_answers_like_an_exhaustive_scan_on_a_generated_store() {
        // A skewed vocabulary: a few words are in most documents (above the frequent-shingle
        // cap), most are rare; CJK words make character-pair shingles.
        let mut vocab: Vec<String> = ["the", "run", "build", "test", "config", "error"]
            .iter()
            .map(|w| (*w).to_owned())
            .collect();
        vocab.extend((0..400).map(|i| format!("w{i}")));
        vocab.extend(["订单", "超时重试", "日志"].iter().map(|w| (*w).to_owned()));
        let mut seed: u64 = 11;
        let mut next = move |n: usize| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(seed >> 33).unwrap_or(0) % n
        };
        let word = |next: &mut dyn FnMut(usize) -> usize| -> String {
            // Half the words from the six frequent ones.
            if next(2) == 0 {
                vocab[next(6)].clone()
            } else {
                vocab[next(vocab.len())].clone()
            }
        };
        let mut index = ShingleIndex::new();
        let mut texts: BTreeMap<String, String> = BTreeMap::new();
        let mut docs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for i in 0..1500 {
            let key = format!("m_{:04}", next(1800));
            if i % 9 == 0 {
                index.remove(&key);
                texts.remove(&key);
                docs.remove(&key);
                continue;
            }
            let len = 3 + next(12);
            let text = (0..len)
                .map(|_| word(&mut next))
                .collect::<Vec<_>>()
                .join(" ");
            index.insert(&key, &text);
            docs.insert(key.clone(), shingles(&text));
            texts.insert(key, text);
        }
        assert_eq!(index.len(), docs.len());
        let keys: Vec<String> = texts.keys().cloned().collect();
        for q in 0..150 {
            // Variations of stored documents (near-duplicates), and fresh texts.
            let query = if q % 3 == 2 {
                (0..3 + next(10))
                    .map(|_| word(&mut next))
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                let base = &texts[&keys[next(keys.len())]];
                let mut parts: Vec<String> = base.split(' ').map(str::to_owned).collect();
                for _ in 0..next(3) {
                    let at = next(parts.len());
                    if next(2) == 0 {
                        parts[at] = word(&mut next);
                    } else {
                        parts.push(word(&mut next));
                    }
                }
                parts.join(" ")
            };
            for threshold in [0.3, 0.5, 0.7, 0.85, 1.0] {
                let got = index
                    .most_similar(&query, threshold)
                    .map(|s| (s.key, s.score));
                assert_eq!(
                    got,
                    linear(&docs, &query, threshold),
                    "query {query:?} at {threshold}"
                );
            }
        }
    }

    /// The shingling rules written plainly (a set of owned strings), to check the slices.
    fn reference_shingles(text: &str) -> Vec<String> {
        let mut set = std::collections::BTreeSet::new();
        for token in normalize(text).split(' ').filter(|t| !t.is_empty()) {
            let mut word = String::new();
            let mut cjk: Vec<char> = Vec::new();
            let flush = |cjk: &mut Vec<char>, set: &mut std::collections::BTreeSet<String>| {
                if cjk.len() == 1 {
                    set.insert(cjk.iter().collect::<String>());
                }
                for pair in cjk.windows(2) {
                    set.insert(pair.iter().collect::<String>());
                }
                cjk.clear();
            };
            for c in token.chars() {
                if is_cjk(c) {
                    if !word.is_empty() {
                        set.insert(std::mem::take(&mut word));
                    }
                    cjk.push(c);
                } else {
                    flush(&mut cjk, &mut set);
                    word.push(c);
                }
            }
            if !word.is_empty() {
                set.insert(word);
            }
            flush(&mut cjk, &mut set);
        }
        set.into_iter().collect()
    }

    #[rstest]
    #[case::latin("Run the tests, run!")]
    #[case::cjk_runs("订单超时：重试 3 次")]
    #[case::mixed_in_one_token("用 cargo测试x日本")]
    #[case::lone_cjk_between_words("a 日 b 日")]
    #[case::accents("Élan café CAFÉ")]
    #[case::empty("")]
    fn shingle_slices_follow_the_shingling_rules(#[case] text: &str) {
        let normalized = normalize(text);
        let slices: Vec<String> = shingle_slices(&normalized)
            .into_iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(slices, reference_shingles(text));
        assert_eq!(shingles(text), reference_shingles(text));
    }

    #[test]
    fn removed_and_replaced_documents_are_not_returned() {
        let mut index = ShingleIndex::new();
        index.insert("a", "run cargo fmt before committing");
        assert_eq!(index.exact("Run cargo fmt, before committing."), Some("a"));
        index.insert("a", "prefer small commits");
        assert!(index.exact("run cargo fmt before committing").is_none());
        assert!(
            index
                .most_similar("run cargo fmt before committing", 0.5)
                .is_none()
        );
        index.remove("a");
        assert!(index.is_empty());
        assert!(index.most_similar("prefer small commits", 0.5).is_none());
    }
}
