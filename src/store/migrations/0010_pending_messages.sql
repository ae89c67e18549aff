-- 0010_pending_messages: a large ingest commits its messages in parts and indexes them at the end.
--
-- A pipelined ingest of a large increment (`archive::ingest`) commits the messages it has
-- written every few megabytes, so that a second connection can copy them from the WAL into
-- the database while the ingest goes on, instead of the whole copy waiting for its end. The
-- index segment, the session's counters and the transcript's checkpoint are still written once,
-- in the ingest's last transaction.
--
-- Until then such a message's id is in `message_pending`: archived, not indexed yet. The last
-- transaction takes each one out as it indexes it. A message left there by an ingest that
-- failed or was killed is indexed by the next ingest of any transcript. (A mark in `messages`
-- itself was tried first: setting it back rewrote every page of the ingest's messages.)

CREATE TABLE message_pending (
    id INTEGER PRIMARY KEY
);
