//! The reviewer: input from the archive, prompt, schema, parse and repair, offline heuristics,
//! trigger policy.
