//! Suggestion envelopes and their state machine with leases and attempts.
