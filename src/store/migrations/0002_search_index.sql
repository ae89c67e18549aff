-- 0002_search_index: FTS5 indexes over archived messages, memory entries and recall entries.
--
-- The `terms` column holds the output of csep's own analyzer (recall module: Unicode-aware
-- lowercasing, English stemming, identifier splitting and CJK word segmentation), joined by
-- spaces. FTS5's `unicode61` tokenizer then only splits on those spaces, so the index and the
-- query go through exactly the same analyzer, which no built-in FTS5 tokenizer offers for CJK.
-- The tables are contentless (the text lives in the base tables) with contentless_delete so
-- rows can be removed by rowid; the rowid equals the base table's rowid.

CREATE VIRTUAL TABLE messages_fts USING fts5 (
    terms,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 0'
);

CREATE VIRTUAL TABLE memory_fts USING fts5 (
    terms,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 0'
);

CREATE VIRTUAL TABLE recall_fts USING fts5 (
    terms,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 0'
);
