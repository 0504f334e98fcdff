//! How Suido names and tags what it builds on the platform: a client token derived from the
//! object's UID makes creates idempotent, and tags let a later reconcile (after a crash or a
//! timeout) find and adopt what an earlier one created.

use suido_provider::{ClientToken, ProviderError, Tags};

/// Tag holding the Kubernetes UID of the owning object.
pub const TAG_UID: &str = "suido.dev/uid";
/// Tag holding the owning object's kind.
pub const TAG_KIND: &str = "suido.dev/kind";
/// Tag holding the owning object's namespace.
pub const TAG_NAMESPACE: &str = "suido.dev/namespace";
/// Tag holding the owning object's name.
pub const TAG_NAME: &str = "suido.dev/name";
/// Tag holding the Tenant that owns the namespace.
pub const TAG_TENANT: &str = "suido.dev/tenant";

/// The client token of the platform resource that the object with `uid` owns. Each replacement
/// of a lost resource is a new attempt with a token of its own, so that the platform does not
/// answer a replacement's create with the lost resource.
pub fn client_token(
    kind: &str,
    uid: &str,
    attempt: Option<u32>,
) -> Result<ClientToken, ProviderError> {
    let kind = kind.to_ascii_lowercase();
    ClientToken::new(match attempt {
        None => format!("{kind}-{uid}"),
        Some(n) => format!("{kind}-{uid}-r{n}"),
    })
}

/// Tags for the platform resource owned by an object.
pub fn tags(kind: &str, namespace: &str, name: &str, uid: &str, tenant: &str) -> Tags {
    [
        (TAG_UID, uid),
        (TAG_KIND, kind),
        (TAG_NAMESPACE, namespace),
        (TAG_NAME, name),
        (TAG_TENANT, tenant),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The selector that finds the platform resource owned by the object with `uid`.
pub fn selector(uid: &str) -> Tags {
    Tags::from([(TAG_UID.to_owned(), uid.to_owned())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stable_and_valid_and_tags_find_the_owner() {
        let uid = "4f7c2a8e-1b2d-4c3e-9f00-0123456789ab";
        let a = client_token("VirtualServer", uid, None).unwrap();
        assert_eq!(a, client_token("VirtualServer", uid, None).unwrap());
        assert_eq!(a.as_str(), format!("virtualserver-{uid}"));
        let r = client_token("VirtualServer", uid, Some(2)).unwrap();
        assert_eq!(r.as_str(), format!("virtualserver-{uid}-r2"));
        let t = tags("VirtualServer", "ns", "web", uid, "vendor");
        assert!(suido_provider::tags_match(&t, &selector(uid)));
        assert!(!suido_provider::tags_match(&t, &selector("other")));
    }
}
