//! suido-sim (work in progress).
