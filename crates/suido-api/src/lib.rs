//! Suido API types.
