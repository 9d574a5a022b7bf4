//! The bulk log scanner: one pass over a stream, all rule patterns at once.
