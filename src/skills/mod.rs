//! Skill synthesis and lifecycle: evidence, gates, staging, publishing, usage, retirement.
