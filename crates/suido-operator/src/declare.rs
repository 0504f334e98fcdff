//! Declarations every kind makes the same way, as macros: the status accessors the memo writes
//! through, and the view of a platform resource of the service families (whose state is a
//! `ResourceState`), so that each kind's module holds only what differs.

/// `impl HasStatus` for a kind whose status field is `status` and whose conditions are at
/// `status.<path>`.
#[macro_export]
macro_rules! has_status {
    ($kind:ty, $status:ty, $($path:ident).+) => {
        impl $crate::status::HasStatus for $kind {
            type Status = $status;
            fn status_ref(&self) -> Option<&$status> {
                self.status.as_ref()
            }
            fn status_slot(&mut self) -> &mut Option<$status> {
                &mut self.status
            }
            fn conditions(
                status: &mut $status,
            ) -> &mut Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
                &mut status.$($path).+
            }
        }
    };
}

/// `impl External` for platform resources with `id`, `tags`, `created_at` and a
/// `ResourceState` in `state`.
#[macro_export]
macro_rules! service_resource {
    ($($resource:ty),+ $(,)?) => {
        $(impl $crate::managed::External for $resource {
            fn id(&self) -> &str {
                &self.id
            }
            fn tags(&self) -> &suido_provider::Tags {
                &self.tags
            }
            fn created_at(&self) -> jiff::Timestamp {
                self.created_at
            }
            fn lifecycle(&self) -> $crate::managed::Lifecycle {
                $crate::controllers::family::lifecycle(self.state)
            }
        })+
    };
}
