-- 0005_review_state: where each session's review left off.
--
-- The worker reviews only the delta since the last review: `review_cursor` is the id of the
-- last archived message a review has seen, so an interrupted or skipped review never loses
-- messages and a finished one never re-reads them. `review_empty_streak` counts reviews in a
-- row that proposed nothing (the trigger policy backs off on it).
ALTER TABLE sessions ADD COLUMN review_cursor INTEGER;
ALTER TABLE sessions ADD COLUMN review_empty_streak INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN last_reviewed_at TEXT;
