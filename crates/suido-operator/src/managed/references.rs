//! References between objects of one namespace (a volume's server, a load balancer's backends,
//! a WAF's targets): how they are checked, resolved, and mapped back from a changed object to
//! the objects that refer to it, with one generic mapper for every watch.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::runtime::Controller;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use suido_api::v1alpha1::Tenant;
use suido_api::v1alpha1::conditions::reasons;

use super::error::Error;
use crate::feeds::{Fed, Feed};

/// A reference from an object to objects of another kind in its namespace.
#[derive(Clone, Debug, PartialEq)]
pub struct Reference {
    /// The referenced kind, e.g. `VirtualServer`.
    pub kind: &'static str,
    /// Which objects: one by name, or those a selector picks.
    pub target: Target,
}

/// Which objects a reference names.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// One object by name.
    Name(String),
    /// The objects whose labels a selector matches.
    Selector(LabelSelector),
}

impl Reference {
    /// A reference by name.
    pub fn named(kind: &'static str, name: impl Into<String>) -> Self {
        Reference {
            kind,
            target: Target::Name(name.into()),
        }
    }

    /// Whether the object `name` with `labels` is one this reference names.
    pub fn names(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        match &self.target {
            Target::Name(n) => n == name,
            Target::Selector(s) => selector_matches(s, labels),
        }
    }
}

/// Whether a label selector matches `labels` (matchLabels and every matchExpressions operator).
/// An empty selector matches everything, as in Kubernetes.
pub fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let by_label = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let by_expression = selector.match_expressions.iter().flatten().all(|e| {
        let values = e.values.as_deref().unwrap_or_default();
        match e.operator.as_str() {
            "In" => labels.get(&e.key).is_some_and(|v| values.contains(v)),
            "NotIn" => labels.get(&e.key).is_none_or(|v| !values.contains(v)),
            "Exists" => labels.contains_key(&e.key),
            "DoesNotExist" => !labels.contains_key(&e.key),
            _ => false,
        }
    });
    by_label && by_expression
}

/// Checks that a name in `field` stays in the object's namespace: `other/name` is refused.
pub fn same_namespace(field: &str, name: &str) -> Result<(), Error> {
    if name.contains('/') {
        return Err(Error::Reference {
            reason: reasons::CROSS_NAMESPACE_REFERENCE,
            message: format!(
                "{field} {name}: references must name an object in this object's own namespace"
            ),
        });
    }
    Ok(())
}

/// The object `name` of `namespace` among `objects`, or a `ReferenceNotFound` error naming the
/// field and the kind.
pub fn find<'a, T: Resource<DynamicType = ()>>(
    objects: &'a [Arc<T>],
    field: &str,
    namespace: &str,
    name: &str,
) -> Result<&'a Arc<T>, Error> {
    same_namespace(field, name)?;
    objects
        .iter()
        .find(|o| o.namespace().as_deref() == Some(namespace) && o.name_any() == name)
        .ok_or_else(|| Error::Reference {
            reason: reasons::REFERENCE_NOT_FOUND,
            message: format!(
                "{field} {name}: no {} of that name in namespace {namespace}",
                T::kind(&())
            ),
        })
}

/// A kind whose objects refer to others.
pub trait Refers {
    /// Everything the object refers to.
    fn references(&self) -> Vec<Reference>;
}

/// The objects of `store` that refer to `changed`: what a change of `changed` affects.
pub fn referrers<K, R>(store: &Store<K>, changed: &R) -> Vec<ObjectRef<K>>
where
    K: Resource<DynamicType = ()> + Refers + Clone + 'static,
    R: Resource<DynamicType = ()>,
{
    let kind = R::kind(&());
    let namespace = changed.namespace();
    let name = changed.name_any();
    let labels = changed.labels();
    store
        .state()
        .iter()
        .filter(|o| o.namespace() == namespace)
        .filter(|o| {
            o.references()
                .iter()
                .any(|r| r.kind == kind && r.names(&name, labels))
        })
        .map(|o| ObjectRef::from_obj(o.as_ref()))
        .collect()
}

/// The objects of a cache that live in the namespaces of `tenant`: what a change of the Tenant
/// affects (its type and namespaces decide every object's rules).
pub fn in_tenant_namespaces<K>(store: &Store<K>, tenant: &Tenant) -> Vec<ObjectRef<K>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    store
        .state()
        .iter()
        .filter(|o| {
            o.namespace()
                .is_some_and(|ns| tenant.spec.namespaces.contains(&ns))
        })
        .map(|o| ObjectRef::from_obj(o.as_ref()))
        .collect()
}

/// Triggers the objects of `K` that refer to an object of kind `R` when the shared watch of `R`
/// changes it.
pub fn watch<K, R>(controller: Controller<K>, feed: &Feed<R>) -> Controller<K>
where
    K: Resource<DynamicType = ()>
        + Refers
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
    R: Fed,
{
    let store = controller.store();
    controller.watches_shared_stream(feed.subscribe(), move |changed| {
        referrers(&store, changed.as_ref())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn selectors_match_labels_and_expressions() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("app", "billing")])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["web".into(), "api".into()]),
            }]),
        };
        assert!(selector_matches(
            &sel,
            &labels(&[("app", "billing"), ("tier", "web")])
        ));
        assert!(!selector_matches(
            &sel,
            &labels(&[("app", "billing"), ("tier", "db")])
        ));
        assert!(!selector_matches(&sel, &labels(&[("tier", "web")])));
        assert!(selector_matches(&LabelSelector::default(), &labels(&[])));
        let not = LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "canary".into(),
                operator: "DoesNotExist".into(),
                values: None,
            }]),
        };
        assert!(selector_matches(&not, &labels(&[("app", "x")])));
        assert!(!selector_matches(&not, &labels(&[("canary", "1")])));
    }

    #[test]
    fn references_stay_in_the_namespace_and_name_the_field() {
        let err = same_namespace("spec.serverName", "other/web").unwrap_err();
        assert_eq!(err.reason(), reasons::CROSS_NAMESPACE_REFERENCE);
        assert!(err.to_string().starts_with("spec.serverName other/web"));
        let servers: Vec<Arc<suido_api::v1alpha1::VirtualServer>> = vec![];
        let err = find(&servers, "spec.serverName", "billing", "web").unwrap_err();
        assert_eq!(err.reason(), reasons::REFERENCE_NOT_FOUND);
        assert_eq!(
            err.to_string(),
            "spec.serverName web: no VirtualServer of that name in namespace billing"
        );
    }
}
