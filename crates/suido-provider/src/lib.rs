//! suido-provider (work in progress).
