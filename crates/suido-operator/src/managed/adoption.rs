//! Which platform resource an object owns: adopted by `spec.externalId` (only the tenant's own,
//! and only when no other object manages it), recorded in status once built (checked against
//! its uid tag), or found by its uid tag after a crash. A built resource that has vanished is
//! reported as lost, or followed when the platform replaced it (a system restore).

use std::sync::Arc;

use kube::ResourceExt;
use suido_provider::ProviderError;

use super::error::Error;
use super::kind::{Actuator, External, ManagedKind};
use crate::identity;

/// What the lookup found.
#[derive(Clone, Debug)]
pub enum Found<E> {
    /// `spec.externalId` names this resource, and the object may manage it.
    Adopted(E),
    /// The resource this object built (by the id in status or by its uid tag).
    Owned(E),
    /// The resource in status is gone, but the platform holds another with this object's uid
    /// tag: it was replaced on the platform (a system restore). `old` is the vanished id.
    Replaced {
        /// The id in status that is gone.
        old: String,
        /// The resource carrying this object's tags now.
        new: E,
    },
    /// The resource in status is gone and nothing replaced it.
    Lost {
        /// The id in status that is gone.
        old: String,
    },
    /// Nothing is built yet.
    Absent,
}

/// The message of every adoption refusal, the same whether the id does not exist or belongs to
/// another tenant, so that it reveals nothing about other tenants' resources.
pub fn refusal<K: ManagedKind>(id: &str, tenant: &str) -> Error {
    Error::AdoptionRefused(format!(
        "spec.externalId {id}: tenant {tenant} has no {} with this id that it may adopt",
        K::NOUN
    ))
}

/// Whether `other` claims the resource `id` before `obj` does: it names the id in its spec or
/// status and is older (creation time, then namespace and name). Objects being deleted still
/// claim until they are gone.
fn claims_first<K: ManagedKind>(other: &K, obj: &K, id: &str) -> bool {
    if other.uid() == obj.uid() {
        return false;
    }
    let names = other.management().external_id.as_deref() == Some(id)
        || other
            .status_ref()
            .and_then(|s| K::managed(s).external_id.as_deref())
            == Some(id);
    if !names {
        return false;
    }
    let key = |o: &K| {
        (
            o.meta().creation_timestamp.clone().map(|t| t.0),
            o.namespace(),
            o.name_any(),
        )
    };
    key(other) < key(obj)
}

/// The checks of an adoption, once the platform answered for `id`. Pure.
pub fn check_adoption<K: ManagedKind>(
    obj: &K,
    id: &str,
    tenant: &str,
    found: Option<&K::External>,
    claims: &[Arc<K>],
) -> Result<(), Error> {
    let Some(resource) = found else {
        return Err(refusal::<K>(id, tenant));
    };
    if resource
        .tags()
        .get(identity::TAG_TENANT)
        .map(String::as_str)
        != Some(tenant)
    {
        return Err(refusal::<K>(id, tenant));
    }
    let uid = obj.uid().unwrap_or_default();
    let creator_alive = resource
        .tags()
        .get(identity::TAG_UID)
        .filter(|creator| **creator != uid)
        .is_some_and(|creator| {
            claims
                .iter()
                .any(|o| o.uid().as_deref() == Some(creator.as_str()))
        });
    if creator_alive || claims.iter().any(|o| claims_first(o.as_ref(), obj, id)) {
        return Err(Error::AlreadyManaged(format!(
            "spec.externalId {id}: another object already manages this {}; one object manages one resource",
            K::NOUN
        )));
    }
    Ok(())
}

fn not_found_is_none<T>(r: Result<T, ProviderError>) -> Result<Option<T>, Error> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(ProviderError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The oldest resource carrying the object's uid tag.
async fn by_tag<K: ManagedKind>(
    actuator: &dyn Actuator<K>,
    uid: &str,
) -> Result<Option<K::External>, Error> {
    let mut found = actuator.list(&identity::selector(uid)).await?;
    found.sort_by_key(|e| e.created_at());
    Ok(found.into_iter().next())
}

/// Finds the resource `obj` owns or adopts. `tenant` is the Tenant that owns the namespace;
/// `claims` are the other objects of the kind.
pub async fn find<K: ManagedKind>(
    obj: &K,
    tenant: &str,
    claims: &[Arc<K>],
    actuator: &dyn Actuator<K>,
) -> Result<Found<K::External>, Error> {
    let uid = obj.uid().unwrap_or_default();
    let in_status = obj
        .status_ref()
        .and_then(|s| K::managed(s).external_id.clone());
    if let Some(id) = obj.management().external_id.as_deref() {
        if let Some(built) = in_status.as_deref().filter(|b| *b != id) {
            return Err(Error::ExternalIdChanged(format!(
                "spec.externalId {id} was set after this object built {} {built}; spec.externalId can only be chosen when the object is created",
                K::NOUN
            )));
        }
        let found = not_found_is_none(actuator.get(id).await)?;
        if found.is_none() && in_status.as_deref() == Some(id) {
            return Err(Error::AdoptedLost(format!(
                "the adopted {} {id} is gone from the platform; Suido does not rebuild adopted resources (delete this object, or create one without spec.externalId)",
                K::NOUN
            )));
        }
        check_adoption(obj, id, tenant, found.as_ref(), claims)?;
        return found
            .map(Found::Adopted)
            .ok_or_else(|| refusal::<K>(id, tenant));
    }
    if let Some(id) = in_status {
        match not_found_is_none(actuator.get(&id).await)? {
            Some(e) if e.tags().get(identity::TAG_UID) == Some(&uid) => return Ok(Found::Owned(e)),
            Some(_) => {
                return Err(Error::ExternalIdChanged(format!(
                    "this object adopted {} {id}, and spec.externalId has since been removed; it can only be chosen when the object is created",
                    K::NOUN
                )));
            }
            None => {
                return Ok(match by_tag(actuator, &uid).await? {
                    Some(new) => Found::Replaced { old: id, new },
                    None => Found::Lost { old: id },
                });
            }
        }
    }
    Ok(match by_tag(actuator, &uid).await? {
        Some(e) => Found::Owned(e),
        None => Found::Absent,
    })
}
