//! The BackupPolicy kind on the shared lifecycle: a backup job of one VirtualServer of the same
//! namespace, registered once its server is built, updated when the spec (or the server's id)
//! changes, and deleted with its recovery points. The platform runs the job on its schedule;
//! the policy follows each run within seconds, and each failed or missed run is a Warning
//! Event. The pure steps are in [`steps`].

pub mod steps;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use jiff::Timestamp;
use kube::runtime::Controller;
use kube::runtime::reflector::Store;
use suido_api::v1alpha1::{
    BackupPolicy, BackupPolicyStatus, ManagedSpec, ManagedStatus, VirtualServer,
};
use suido_provider::{
    BackupJob, BackupJobSpec, ClientToken, Operation, ProviderError, ProviderResult, Tags,
};

use self::steps::{Server, Step};
use crate::conditions::Desired;
use crate::context::Context;
use crate::feeds::Feeds;
use crate::managed::references::{self, Reference, Refers};
use crate::managed::{Acted, Actuator, Error, Hold, ManagedKind, Note, Verdict};

crate::has_status!(BackupPolicy, BackupPolicyStatus, managed.conditions);

crate::service_resource!(BackupJob);

impl Refers for BackupPolicy {
    fn references(&self) -> Vec<Reference> {
        vec![Reference::named(
            "VirtualServer",
            self.spec.server_name.clone(),
        )]
    }
}

impl ManagedKind for BackupPolicy {
    const KIND: &'static str = "BackupPolicy";
    const NAME: &'static str = "backuppolicy";
    const NOUN: &'static str = "backup job";
    const FINALIZER: &'static str = "infra.suido.dev/backuppolicy-cleanup";
    type Desired = Option<BackupJobSpec>;
    type External = BackupJob;
    type Step = Step;
    type Refs = Server;

    fn management(&self) -> &ManagedSpec {
        &self.spec.management
    }
    fn managed(status: &BackupPolicyStatus) -> &ManagedStatus {
        &status.managed
    }
    fn managed_mut(status: &mut BackupPolicyStatus) -> &mut ManagedStatus {
        &mut status.managed
    }
    fn build(&self, server: &Server) -> Result<Option<BackupJobSpec>, Error> {
        Ok(steps::build(self, server))
    }
    fn creating_note(desired: &Option<BackupJobSpec>) -> String {
        match desired {
            Some(d) => format!(
                "registering a backup job of server {} on schedule {} ({})",
                d.server_id, d.schedule, d.time_zone
            ),
            None => "registering a backup job".to_owned(),
        }
    }
    fn settled(step: &Step) -> bool {
        matches!(step, Step::Done)
    }
    fn observe(
        &self,
        status: &mut BackupPolicyStatus,
        external: Option<&BackupJob>,
        _step: Option<&Step>,
        refs: Option<&Server>,
    ) -> Vec<Desired> {
        steps::observe(status, external, refs)
    }
    fn verdict(&self, _external: &BackupJob, step: &Step) -> Verdict {
        steps::verdict(self, step)
    }
    fn store(ctx: &Context) -> &Store<Self> {
        &ctx.stores.backups
    }
    fn actuator(ctx: &Context) -> Box<dyn Actuator<Self> + '_> {
        Box::new(BackupActuator { ctx })
    }
    fn watches(controller: Controller<Self>, feeds: &Feeds) -> Controller<Self> {
        references::watch::<BackupPolicy, VirtualServer>(controller, &feeds.servers)
    }
}

/// The backup calls of a BackupPolicy.
struct BackupActuator<'a> {
    ctx: &'a Context,
}

impl BackupActuator<'_> {
    /// Whether the platform still has the server `id` (a VirtualServer can name a server that a
    /// system restore has just replaced, until it follows the new one).
    async fn server_exists(&self, id: &str) -> Result<bool, Error> {
        match self
            .ctx
            .call("get_server", self.ctx.platform.get_server(id))
            .await
        {
            Ok(_) => Ok(true),
            Err(ProviderError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// A Warning Event for each failed run that the status does not list yet.
    async fn announce_failures(&self, bp: &BackupPolicy, job: &BackupJob) {
        let known = bp
            .status
            .as_ref()
            .map(|s| s.failures.as_slice())
            .unwrap_or_default();
        for failure in steps::new_failures(known, &job.failures) {
            self.ctx
                .event(
                    bp,
                    true,
                    steps::BACKUP_FAILED,
                    "Backup",
                    steps::failure_note(failure),
                )
                .await;
        }
    }
}

#[async_trait]
impl Actuator<BackupPolicy> for BackupActuator<'_> {
    async fn resolve(&self, bp: &BackupPolicy) -> Result<Server, Error> {
        steps::server(bp, &self.ctx.stores.servers.state())
    }

    async fn get(&self, id: &str) -> ProviderResult<BackupJob> {
        self.ctx
            .call("get_backup_job", self.ctx.platform.get_backup_job(id))
            .await
    }

    async fn list(&self, selector: &Tags) -> ProviderResult<Vec<BackupJob>> {
        self.ctx
            .call(
                "list_backup_jobs",
                self.ctx.platform.list_backup_jobs(selector),
            )
            .await
    }

    async fn create(
        &self,
        token: &ClientToken,
        tags: &Tags,
        desired: &Option<BackupJobSpec>,
    ) -> ProviderResult<Operation> {
        let Some(spec) = desired else {
            // `ready_to_create` holds the create until the server is built.
            return Err(ProviderError::conflict(
                "the server to back up is not built yet",
            ));
        };
        self.ctx
            .call(
                "create_backup_job",
                self.ctx.platform.create_backup_job(token, tags, spec),
            )
            .await
    }

    async fn ready_to_create(
        &self,
        _bp: &BackupPolicy,
        server: &Server,
    ) -> Result<Option<Hold>, Error> {
        Ok(steps::gate(server))
    }

    async fn act(
        &self,
        bp: &BackupPolicy,
        desired: &Option<BackupJobSpec>,
        job: &mut BackupJob,
        server: &Server,
    ) -> Result<Acted<Step>, Error> {
        self.announce_failures(bp, job).await;
        let mut step = steps::plan(desired.as_ref(), job, server);
        let mut notes = vec![];
        if let (Step::Update(changed), Some(spec)) = (&step, desired) {
            if changed.contains(&"server") && !self.server_exists(&spec.server_id).await? {
                step = steps::server_gone(changed, &server.name, &spec.server_id);
            } else {
                self.ctx
                    .call(
                        "update_backup_job",
                        self.ctx.platform.update_backup_job(&job.id, spec),
                    )
                    .await?;
                notes.push(Note {
                    reason: "Updating",
                    message: format!("updating the backup job: {}", changed.join(", ")),
                });
            }
        }
        let flow = steps::flow(&step, job, Timestamp::now());
        Ok(Acted { step, flow, notes })
    }

    async fn delete(&self, id: &str) -> ProviderResult<Operation> {
        self.ctx
            .call("delete_backup_job", self.ctx.platform.delete_backup_job(id))
            .await
    }
}
