-- 0010_pending_messages: a large ingest commits its messages in parts and indexes them at the end.
--
-- A pipelined ingest of a large increment (`archive::ingest`) commits the messages it has
-- written every few megabytes, so that a second connection can copy them from the WAL into
-- the database while the ingest goes on, instead of the whole copy waiting for its end. The
-- index segment, the session's counters and the transcript's checkpoint are still written once,
-- in the ingest's last transaction.
--
-- Until then such a message has `term_count = -1`: archived, not indexed yet. The last
-- transaction sets each one's real count as it indexes it. A message left at -1 by an ingest
-- that failed or was killed is indexed by the next ingest of any transcript, which finds it
-- through this index (empty nearly always).

CREATE INDEX messages_pending ON messages (id) WHERE term_count < 0;
