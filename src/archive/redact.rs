//! Secret redaction shared by ingest, every file write and every provider request.
