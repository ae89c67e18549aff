-- 0009_message_index: archived messages get csep's own inverted index instead of FTS5.
--
-- Writing `messages_fts` was most of an ingest's writing thread: FTS5 keeps its pending terms
-- in a hash of linked chains and walks one per token, a cache miss each. Recall never needed
-- what FTS5 offers beyond doclists (it reads each term's rowids and does its own ranking,
-- `recall::pool`), so ingest now builds the doclists itself (`archive::index`):
--
-- * `message_segments`: one row per segment, written by one ingest (or by merging segments of
--   the same level), with the rows it indexes and their terms, which BM25's statistics sum.
-- * `message_postings`: per segment and term, the ascending ids of the messages holding the
--   term, as varint deltas. Its key leads with the segment so that a segment is written, read
--   for a merge and deleted as one range.
-- * `messages.term_count`: a message's distinct terms (its length for BM25); `NULL` for a
--   message that is not indexed (injected text, or indexed by `messages_fts` before this
--   migration).
--
-- Messages archived before this migration stay in `messages_fts`, which recall still reads: no
-- archive is re-indexed on upgrade.

ALTER TABLE messages ADD COLUMN term_count INTEGER;

CREATE TABLE message_segments (
    id     INTEGER PRIMARY KEY,
    level  INTEGER NOT NULL,
    rows   INTEGER NOT NULL,
    tokens INTEGER NOT NULL
);

CREATE TABLE message_postings (
    segment INTEGER NOT NULL,
    term    TEXT NOT NULL,
    rowids  BLOB NOT NULL,
    PRIMARY KEY (segment, term)
) WITHOUT ROWID;
