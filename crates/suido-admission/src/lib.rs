//! suido-admission (work in progress).
