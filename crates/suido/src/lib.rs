//! The library half of the `suido` binary: the local development stack that `suido dev` runs
//! and the end-to-end tests start in-process.

pub mod dev;
