//! One module per controller, each of the same shape: `NAME`, `FINALIZER`, `Error` with
//! `metric_label()`, pure validate/build/plan steps, `reconcile`, `error_policy` and `run`.

pub mod block_volume;
pub mod virtual_server;
