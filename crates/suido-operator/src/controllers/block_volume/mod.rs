//! The BlockVolume kind on the shared lifecycle: volumes created idempotently, grown, attached
//! only to a VirtualServer of the same namespace, detached, and deleted — never while deletion
//! protection is on, and never silently while attached to a server that still exists. The pure
//! steps are in [`steps`].

pub mod steps;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::Controller;
use kube::runtime::reflector::Store;
use suido_api::v1alpha1::conditions::reasons;
use suido_api::v1alpha1::{
    BlockVolume, BlockVolumeStatus, ManagedSpec, ManagedStatus, VirtualServer,
};
use suido_provider::{
    ClientToken, Operation, ProviderResult, Tags, Volume, VolumeSpec, VolumeState,
};

use self::steps::{Step, Target};
use crate::conditions::Desired;
use crate::context::Context;
use crate::feeds::Feeds;
use crate::managed::references::{self, Reference, Refers};
use crate::managed::{
    Acted, Actuator, Error, External, Flow, Lifecycle, ManagedKind, Note, Verdict,
};

impl External for Volume {
    fn id(&self) -> &str {
        &self.id
    }
    fn tags(&self) -> &Tags {
        &self.tags
    }
    fn created_at(&self) -> Timestamp {
        self.created_at
    }
    fn lifecycle(&self) -> Lifecycle {
        match self.state {
            VolumeState::Creating => Lifecycle::Building,
            VolumeState::Deleting => Lifecycle::Deleting,
            VolumeState::Error => Lifecycle::Error,
            _ => Lifecycle::Built,
        }
    }
}

impl Refers for BlockVolume {
    fn references(&self) -> Vec<Reference> {
        let mut out: Vec<Reference> = self
            .spec
            .attach_to
            .iter()
            .map(|a| Reference::named("VirtualServer", a.server_name.clone()))
            .collect();
        out.extend(
            self.status
                .iter()
                .filter_map(|s| s.attached_to.clone())
                .map(|n| Reference::named("VirtualServer", n)),
        );
        out
    }
}

impl ManagedKind for BlockVolume {
    const KIND: &'static str = "BlockVolume";
    const NAME: &'static str = "blockvolume";
    const NOUN: &'static str = "volume";
    const FINALIZER: &'static str = "infra.suido.dev/blockvolume-cleanup";
    type Desired = VolumeSpec;
    type External = Volume;
    type Step = Step;
    type Refs = Target;

    fn management(&self) -> &ManagedSpec {
        &self.spec.management
    }
    fn managed(status: &BlockVolumeStatus) -> &ManagedStatus {
        &status.managed
    }
    fn managed_mut(status: &mut BlockVolumeStatus) -> &mut ManagedStatus {
        &mut status.managed
    }
    fn build(&self, _refs: &Target) -> Result<VolumeSpec, Error> {
        Ok(steps::build(self))
    }
    fn creating_note(desired: &VolumeSpec) -> String {
        format!("ordering a {} GB volume", desired.size_gb)
    }
    fn settled(step: &Step) -> bool {
        matches!(step, Step::Done)
    }
    fn observe(
        &self,
        status: &mut BlockVolumeStatus,
        external: Option<&Volume>,
        _step: Option<&Step>,
        refs: Option<&Target>,
    ) -> Vec<Desired> {
        steps::observe(status, external, refs)
    }
    fn verdict(&self, _external: &Volume, step: &Step) -> Verdict {
        steps::verdict(step)
    }
    fn store(ctx: &Context) -> &Store<Self> {
        &ctx.stores.volumes
    }
    fn actuator(ctx: &Context) -> Box<dyn Actuator<Self> + '_> {
        Box::new(VolumeActuator { ctx })
    }
    fn watches(controller: Controller<Self>, feeds: &Feeds) -> Controller<Self> {
        references::watch::<BlockVolume, VirtualServer>(controller, &feeds.servers)
    }
}

/// The block storage calls of a BlockVolume.
struct VolumeActuator<'a> {
    ctx: &'a Context,
}

impl VolumeActuator<'_> {
    /// The VirtualServer a volume is attached to on the platform, if it still exists in the
    /// volume's namespace and is not being deleted.
    fn live_attachment(&self, bv: &BlockVolume, volume: &Volume) -> Option<String> {
        let server_id = volume.attached_to.as_ref()?;
        self.ctx
            .stores
            .servers
            .state()
            .iter()
            .filter(|vs| {
                vs.namespace() == bv.namespace() && vs.metadata.deletion_timestamp.is_none()
            })
            .find(|vs| {
                vs.status
                    .as_ref()
                    .and_then(|s| s.managed.external_id.as_ref())
                    .is_some_and(|id| id == server_id)
            })
            .map(|vs| vs.name_any())
    }
}

#[async_trait]
impl Actuator<BlockVolume> for VolumeActuator<'_> {
    async fn resolve(&self, bv: &BlockVolume) -> Result<Target, Error> {
        steps::target(bv, &self.ctx.stores.servers.state())
    }

    async fn get(&self, id: &str) -> ProviderResult<Volume> {
        self.ctx
            .call("get_volume", self.ctx.platform.get_volume(id))
            .await
    }

    async fn list(&self, selector: &Tags) -> ProviderResult<Vec<Volume>> {
        self.ctx
            .call("list_volumes", self.ctx.platform.list_volumes(selector))
            .await
    }

    async fn create(
        &self,
        token: &ClientToken,
        tags: &Tags,
        desired: &VolumeSpec,
    ) -> ProviderResult<Operation> {
        self.ctx
            .call(
                "create_volume",
                self.ctx.platform.create_volume(token, tags, desired),
            )
            .await
    }

    async fn act(
        &self,
        bv: &BlockVolume,
        desired: &VolumeSpec,
        volume: &mut Volume,
        target: &Target,
    ) -> Result<Acted<Step>, Error> {
        let step = steps::plan(desired, volume, target);
        let (ctx, id) = (self.ctx, volume.id.as_str());
        let storage = &ctx.platform;
        let note = match &step {
            Step::Wait | Step::Done | Step::WaitForServer(_) => None,
            Step::Grow(size) => {
                ctx.call("grow_volume", storage.grow_volume(id, *size))
                    .await?;
                Some(Note {
                    reason: "Growing",
                    message: format!("growing the volume {} -> {size} GB", volume.size_gb),
                })
            }
            Step::Detach => {
                ctx.call("detach_volume", storage.detach_volume(id)).await?;
                Some(Note {
                    reason: "Detaching",
                    message: "detaching the volume from its server".to_owned(),
                })
            }
            Step::Attach(server_id) => {
                ctx.call("attach_volume", storage.attach_volume(id, server_id))
                    .await?;
                let name = bv
                    .spec
                    .attach_to
                    .as_ref()
                    .map(|a| a.server_name.clone())
                    .unwrap_or_default();
                Some(Note {
                    reason: "Attaching",
                    message: format!("attaching the volume to VirtualServer {name}"),
                })
            }
        };
        let flow = match step {
            Step::Done => Flow::Settled,
            _ => Flow::Poll,
        };
        Ok(Acted {
            step,
            flow,
            notes: note.into_iter().collect(),
        })
    }

    async fn prepare_delete(&self, bv: &BlockVolume, volume: &Volume) -> Result<(), Error> {
        if bv.spec.deletion_protection {
            return Err(Error::Blocked {
                reason: reasons::DELETION_PROTECTED,
                message:
                    "spec.deletionProtection is true: the volume is kept until it is set to false"
                        .to_owned(),
            });
        }
        if let Some(server) = self.live_attachment(bv, volume) {
            return Err(Error::Blocked {
                reason: reasons::ATTACHED,
                message: format!(
                    "the volume is attached to VirtualServer {server}; remove spec.attachTo (or delete the server) before deleting it"
                ),
            });
        }
        if volume.attached_to.is_some() {
            // The server is gone or going: detach first, as the platform deletes only detached
            // volumes.
            self.ctx
                .call("detach_volume", self.ctx.platform.detach_volume(&volume.id))
                .await?;
            return Err(Error::Pending(format!(
                "detaching volume {} before deleting it",
                volume.id
            )));
        }
        if volume.operation.is_some() {
            return Err(Error::Pending(format!("volume {} is busy", volume.id)));
        }
        Ok(())
    }

    async fn delete(&self, id: &str) -> ProviderResult<Operation> {
        self.ctx
            .call("delete_volume", self.ctx.platform.delete_volume(id))
            .await
    }
}
