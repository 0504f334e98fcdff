//! suido-controlplane (work in progress).
