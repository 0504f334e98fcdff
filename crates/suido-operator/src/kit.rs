//! Small mappings the controllers share that are not part of the managed lifecycle.

use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};
use suido_api::v1alpha1::Tenant;

/// The objects of a cache that live in the namespaces of `tenant`: what a change of the Tenant
/// affects.
pub fn in_tenant_namespaces<K>(store: &Store<K>, tenant: &Tenant) -> Vec<ObjectRef<K>>
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
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
