//! Suido's API: the custom resource types of group `infra.suido.dev`.
//!
//! Every platform service from the shared IT platform's specification is one kind here, with the
//! platform's menus and rules expressed in the schema (enums and CEL `x-kubernetes-validations`)
//! so that a wrong value is refused at apply time. This crate knows nothing of controllers.

// kube-derive's repeated `printcolumn(name = .., type_ = ..)` attributes look like duplicates
// to clippy, but each one is a separate column.
#![allow(clippy::duplicated_attributes)]

pub mod v1alpha1;

/// The API group of every Suido kind.
pub const GROUP: &str = "infra.suido.dev";

/// The category every Suido kind belongs to (`kubectl get suido`).
pub const CATEGORY: &str = "suido";
