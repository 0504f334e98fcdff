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

/// The [`Actuator`](crate::managed::Actuator) of a service-family kind (LoadBalancer,
/// WafInstance, IntrusionPrevention, SmtpRelay): the family's five platform calls, named once
/// each (and in the call metrics), the kind's own reference resolution, and its plan. The
/// create, update-when-the-plan-says-so, busy-before-delete and delete paths are the family's
/// and are written here once.
#[macro_export]
macro_rules! family_actuator {
    (
        $actuator:ident for $kind:ty, spec $spec:ty, resource $resource:ty, refs $refs:ty,
        calls { get: $get:ident, list: $list:ident, create: $create:ident,
                update: $update:ident, delete: $delete:ident },
        plan: $plan:path,
        resolve: |$ctx:ident, $obj:ident| $resolve:expr $(,)?
    ) => {
        #[doc = concat!("The platform calls of a ", stringify!($kind), ".")]
        struct $actuator<'a> {
            ctx: &'a $crate::context::Context,
        }

        #[async_trait::async_trait]
        impl $crate::managed::Actuator<$kind> for $actuator<'_> {
            async fn resolve(&self, $obj: &$kind) -> Result<$refs, $crate::managed::Error> {
                let $ctx = self.ctx;
                $resolve
            }

            async fn get(&self, id: &str) -> suido_provider::ProviderResult<$resource> {
                self.ctx
                    .call(stringify!($get), self.ctx.platform.$get(id))
                    .await
            }

            async fn list(
                &self,
                selector: &suido_provider::Tags,
            ) -> suido_provider::ProviderResult<Vec<$resource>> {
                self.ctx
                    .call(stringify!($list), self.ctx.platform.$list(selector))
                    .await
            }

            async fn create(
                &self,
                token: &suido_provider::ClientToken,
                tags: &suido_provider::Tags,
                desired: &$spec,
            ) -> suido_provider::ProviderResult<suido_provider::Operation> {
                self.ctx
                    .call(
                        stringify!($create),
                        self.ctx.platform.$create(token, tags, desired),
                    )
                    .await
            }

            async fn act(
                &self,
                _obj: &$kind,
                desired: &$spec,
                external: &mut $resource,
                refs: &$refs,
            ) -> Result<
                $crate::managed::Acted<$crate::controllers::family::Step>,
                $crate::managed::Error,
            > {
                use $crate::controllers::family;
                let step = $plan(desired, external, refs);
                if let family::Step::Update(_) = &step {
                    let op = self
                        .ctx
                        .call(
                            stringify!($update),
                            self.ctx.platform.$update(&external.id, desired),
                        )
                        .await?;
                    $crate::managed::lifecycle::operation_result(&op)?;
                }
                Ok($crate::managed::Acted {
                    notes: family::notes(&step),
                    flow: family::flow(&step),
                    step,
                })
            }

            async fn prepare_delete(
                &self,
                _obj: &$kind,
                external: &$resource,
            ) -> Result<(), $crate::managed::Error> {
                $crate::controllers::family::ready_to_delete(
                    <$kind as $crate::managed::ManagedKind>::NOUN,
                    &external.id,
                    external.state,
                    external.operation.as_ref(),
                )
            }

            async fn delete(
                &self,
                id: &str,
            ) -> suido_provider::ProviderResult<suido_provider::Operation> {
                self.ctx
                    .call(stringify!($delete), self.ctx.platform.$delete(id))
                    .await
            }
        }
    };
}
