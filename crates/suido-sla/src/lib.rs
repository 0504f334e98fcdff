//! suido-sla (work in progress).
