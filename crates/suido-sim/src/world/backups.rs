//! Backup jobs (ArcserveUDP) and the scheduler that runs them: each job fires at the times of
//! its cron schedule in its time zone, records a recovery point or a failure, and keeps
//! exactly `generations` recovery points by merging the oldest incremental into the full one
//! (at the merge schedule when there is one, else right after each backup). After a downtime a
//! job runs once, for the latest time it missed.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use suido_provider::{
    BackupFailure, BackupJob, BackupJobSpec, BackupModeKind, BackupScopeKind, ClientToken,
    ProviderError, ProviderResult, RecoveryPoint, RecoveryPointKind, ResourceState, ServerState,
    Tags,
};

use super::checks::{check_range, no_such};
use super::family::{Family, Kind, common};
use super::ops::Action;
use super::{Tx, World, check_name};
use crate::cron::{Cron, time_zone};

/// How many failed runs a job keeps.
pub(crate) const MAX_FAILURES: usize = 10;

/// Most generations a job may keep.
const MAX_GENERATIONS: u32 = 1440;

/// How many missed schedule times the scheduler steps over to find the latest one.
const CATCH_UP_LIMIT: usize = 100_000;

/// A backup job and what only the platform knows about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BackupRecord {
    pub job: BackupJob,
    /// How many of the next runs fail (fault injection).
    #[serde(default)]
    pub fail_runs: u32,
    /// When the next merge is due (incremental jobs with a merge schedule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_merge: Option<Timestamp>,
}

common!(BackupRecord, job);

/// The backup job family.
pub(crate) struct BackupFamily;

impl Kind for BackupFamily {
    const FAMILY: Family = Family::BackupJob;
    type Spec = BackupJobSpec;
    type Record = BackupRecord;
    type Resource = BackupJob;

    fn table(world: &World) -> &BTreeMap<String, BackupRecord> {
        &world.backup_jobs
    }

    fn table_mut(world: &mut World) -> &mut BTreeMap<String, BackupRecord> {
        &mut world.backup_jobs
    }

    fn validate(
        tx: &Tx<'_>,
        tags: &Tags,
        spec: &BackupJobSpec,
        _id: Option<&str>,
    ) -> ProviderResult<()> {
        check_name("spec.name", &spec.name)?;
        if !tx.server_visible(tags, &spec.server_id) {
            return Err(no_such("spec.serverId", "server", &spec.server_id));
        }
        schedules(spec)?;
        check_range("spec.generations", spec.generations, 1, MAX_GENERATIONS)?;
        if spec.merge_schedule.is_some() && spec.mode != BackupModeKind::Incremental {
            return Err(ProviderError::invalid(
                "spec.mergeSchedule is only for mode Incremental",
            ));
        }
        Ok(())
    }

    fn build(
        tx: &mut Tx<'_>,
        id: &str,
        token: ClientToken,
        tags: Tags,
        spec: BackupJobSpec,
    ) -> ProviderResult<BackupRecord> {
        Ok(BackupRecord {
            job: BackupJob {
                id: id.to_string(),
                tags,
                state: ResourceState::Creating,
                client_token: token,
                operation: None,
                created_at: tx.now,
                spec,
                last_run: None,
                next_run: None,
                recovery_points: Vec::new(),
                failures: Vec::new(),
            },
            fail_runs: 0,
            next_merge: None,
        })
    }

    fn check_delete(tx: &Tx<'_>, id: &str) -> ProviderResult<()> {
        tx.check_no_restore_from(id, "backup job")
    }

    fn update_action(spec: BackupJobSpec) -> Option<Action> {
        Some(Action::UpdateBackupJob { spec })
    }

    fn present(_world: &World, rec: &BackupRecord, _now: Timestamp) -> BackupJob {
        rec.job.clone()
    }
}

/// A job's parsed schedule, time zone and merge schedule.
struct Schedules {
    run: Cron,
    tz: jiff::tz::TimeZone,
    merge: Option<Cron>,
}

fn schedules(spec: &BackupJobSpec) -> ProviderResult<Schedules> {
    let run = Cron::parse(&spec.schedule)
        .map_err(|e| ProviderError::invalid(format!("spec.schedule: {e}")))?;
    let tz = time_zone(&spec.time_zone)
        .map_err(|e| ProviderError::invalid(format!("spec.timeZone: {e}")))?;
    let merge = match &spec.merge_schedule {
        Some(m) => Some(
            Cron::parse(m)
                .map_err(|e| ProviderError::invalid(format!("spec.mergeSchedule: {e}")))?,
        ),
        None => None,
    };
    Ok(Schedules { run, tz, merge })
}

/// Drops the oldest recovery points until `generations` are left; an incremental that becomes
/// the oldest is merged with the full one before it (it becomes the full one, of its size).
fn merge_excess(job: &mut BackupJob) {
    let keep = usize::try_from(job.spec.generations)
        .unwrap_or(usize::MAX)
        .max(1);
    while job.recovery_points.len() > keep {
        let Some(dropped) = job.recovery_points.pop() else {
            break;
        };
        if let Some(oldest) = job.recovery_points.last_mut()
            && oldest.kind == RecoveryPointKind::Incremental
        {
            oldest.kind = RecoveryPointKind::Full;
            oldest.size_gb = oldest.size_gb.max(dropped.size_gb);
        }
    }
}

/// Whether the scheduler runs a job in this state.
fn scheduled(state: ResourceState) -> bool {
    matches!(state, ResourceState::Available | ResourceState::Updating)
}

impl World {
    /// The next runs and merges of the jobs the scheduler runs.
    pub(crate) fn backup_wakes(&self) -> impl Iterator<Item = Timestamp> + '_ {
        self.backup_jobs
            .values()
            .filter(|r| scheduled(r.job.state))
            .flat_map(|r| [r.job.next_run, r.next_merge])
            .flatten()
    }
}

impl Tx<'_> {
    /// Sets a job's next run and merge from `self.now`.
    fn schedule_job(&mut self, id: &str) -> ProviderResult<()> {
        let now = self.now;
        let rec = self.record_mut::<BackupFamily>(id)?;
        let s = schedules(&rec.job.spec)?;
        rec.job.next_run = s.run.next_after(now, &s.tz);
        rec.next_merge = match (&s.merge, rec.job.spec.mode) {
            (Some(m), BackupModeKind::Incremental) => m.next_after(now, &s.tz),
            _ => None,
        };
        Ok(())
    }

    pub(super) fn backup_job_registered(&mut self, id: &str, op_id: &str) -> ProviderResult<()> {
        self.schedule_job(id)?;
        self.settle::<BackupFamily>(id, op_id)
    }

    pub(super) fn backup_job_updated(
        &mut self,
        id: &str,
        spec: &BackupJobSpec,
        op_id: &str,
    ) -> ProviderResult<()> {
        let rec = self.record_mut::<BackupFamily>(id)?;
        rec.job.spec = spec.clone();
        if spec.merge_schedule.is_none() {
            merge_excess(&mut rec.job);
        }
        self.schedule_job(id)?;
        self.settle::<BackupFamily>(id, op_id)
    }

    /// Runs the backups and merges due at `self.now`; returns how many backups ran.
    pub(crate) fn run_due_backups(&mut self) -> usize {
        let now = self.now;
        let due: Vec<(String, bool, bool)> = self
            .world
            .backup_jobs
            .iter()
            .filter(|(_, r)| scheduled(r.job.state))
            .map(|(id, r)| {
                let run = r.job.next_run.is_some_and(|t| t <= now);
                let merge = r.next_merge.is_some_and(|t| t <= now);
                (id.clone(), run, merge)
            })
            .filter(|(_, run, merge)| *run || *merge)
            .collect();
        let mut ran = 0;
        for (id, run, merge) in due {
            let Ok(rec) = self.record_mut::<BackupFamily>(&id) else {
                continue;
            };
            let Ok(s) = schedules(&rec.job.spec) else {
                tracing::warn!(job = %id, "backup job has a schedule that no longer parses");
                rec.job.next_run = None;
                rec.next_merge = None;
                continue;
            };
            if run && let Some(first) = rec.job.next_run {
                let at = s.run.latest_due(first, now, &s.tz, CATCH_UP_LIMIT);
                rec.job.next_run = s.run.next_after(now, &s.tz);
                self.run_backup(&id, at);
                ran += 1;
            }
            if merge && let Ok(rec) = self.record_mut::<BackupFamily>(&id) {
                merge_excess(&mut rec.job);
                rec.next_merge = s.merge.as_ref().and_then(|m| m.next_after(now, &s.tz));
            }
        }
        ran
    }

    /// Why a run of a backup of `server_id` fails now, if it does.
    fn backup_blocker(&self, server_id: &str) -> Option<String> {
        let Some(rec) = self.world.servers.get(server_id) else {
            return Some(format!("server {server_id} does not exist"));
        };
        if rec.server.state != ServerState::Running {
            return Some(format!(
                "server {server_id} is {:?}; a backup needs it Running",
                rec.server.state
            ));
        }
        if let Some(o) = rec.outage.as_ref().filter(|o| self.now < o.until) {
            return Some(format!(
                "the host of server {server_id} is down ({:?} failure)",
                o.layer
            ));
        }
        None
    }

    /// One run of a job, for the schedule time `at`: a recovery point, or a failure.
    pub(crate) fn run_backup(&mut self, id: &str, at: Timestamp) {
        let Some(rec) = self.world.backup_jobs.get(id) else {
            return;
        };
        let server_id = rec.job.spec.server_id.clone();
        let injected = rec.fail_runs > 0;
        let blocker = if injected {
            Some("injected failure: the backup agent on the server did not answer".to_string())
        } else {
            self.backup_blocker(&server_id)
        };
        let full_gb = self.world.servers.get(&server_id).map_or(1, |r| {
            let data: u32 = r.server.disks.iter().map(|d| d.size_gb).sum();
            match rec.job.spec.scope {
                BackupScopeKind::Image => r.server.os_disk_gb + data,
                BackupScopeKind::DataOnly => data,
            }
            .max(1)
        });
        let point_id = match blocker {
            None => Some(self.new_id("rp")),
            Some(_) => None,
        };
        let Ok(rec) = self.record_mut::<BackupFamily>(id) else {
            return;
        };
        rec.job.last_run = Some(at);
        if injected {
            rec.fail_runs -= 1;
        }
        match (blocker, point_id) {
            (Some(reason), _) => {
                tracing::info!(job = id, %reason, "backup run failed");
                rec.job.failures.insert(0, BackupFailure { at, reason });
                rec.job.failures.truncate(MAX_FAILURES);
            }
            (None, Some(point_id)) => {
                let has_full = rec
                    .job
                    .recovery_points
                    .iter()
                    .any(|p| p.kind == RecoveryPointKind::Full);
                let incremental = rec.job.spec.mode == BackupModeKind::Incremental && has_full;
                let (kind, size_gb) = if incremental {
                    (RecoveryPointKind::Incremental, (full_gb / 20).max(1))
                } else {
                    (RecoveryPointKind::Full, full_gb)
                };
                rec.job.recovery_points.insert(
                    0,
                    RecoveryPoint {
                        id: point_id,
                        taken_at: at,
                        kind,
                        size_gb,
                    },
                );
                if rec.job.spec.mode == BackupModeKind::Full || rec.next_merge.is_none() {
                    merge_excess(&mut rec.job);
                }
            }
            (None, None) => {}
        }
    }

    /// Makes the next `runs` runs of a job fail.
    pub(crate) fn fail_backup_runs(&mut self, id: &str, runs: u32) -> ProviderResult<BackupJob> {
        let rec = self.record_mut::<BackupFamily>(id)?;
        rec.fail_runs = runs;
        tracing::info!(job = id, runs, "backup failures injected");
        Ok(rec.job.clone())
    }
}

#[cfg(test)]
mod tests {
    use suido_provider::{OperationState, RecoveryPointKind as K};

    use super::*;
    use crate::world::testkit::{at, instant, server_spec, t0, token};

    const HOUR: i64 = 3600;

    fn spec(server: &str, mode: BackupModeKind, generations: u32) -> BackupJobSpec {
        BackupJobSpec {
            name: "hourly".into(),
            server_id: server.into(),
            scope: BackupScopeKind::Image,
            schedule: "0 * * * *".into(),
            time_zone: "UTC".into(),
            generations,
            mode,
            merge_schedule: None,
        }
    }

    /// A world with a running server and one job of `spec` registered at `t0` (on the hour).
    fn job(spec_of: impl FnOnce(&str) -> BackupJobSpec) -> (World, String, String) {
        let rules = instant();
        let mut world = World::default();
        let mut tx = Tx::new(&mut world, t0(), &rules);
        let srv = tx
            .create_server(token("s"), Tags::new(), server_spec("1CPU-2GB"))
            .map(|(op, _)| op.resource_id)
            .unwrap_or_default();
        let job = tx
            .create::<BackupFamily>(token("j"), Tags::new(), spec_of(&srv))
            .map(|(op, _)| op.resource_id)
            .unwrap_or_default();
        (world, srv, job)
    }

    fn tick(world: &mut World, secs: i64) -> usize {
        let rules = instant();
        Tx::new(world, at(secs), &rules).tick()
    }

    fn kinds(world: &World, job: &str) -> Vec<K> {
        world.backup_jobs[job]
            .job
            .recovery_points
            .iter()
            .map(|p| p.kind)
            .collect()
    }

    fn times(world: &World, job: &str) -> Vec<Timestamp> {
        world.backup_jobs[job]
            .job
            .recovery_points
            .iter()
            .map(|p| p.taken_at)
            .collect()
    }

    #[test]
    fn full_backups_keep_exactly_the_generations() {
        let (mut world, _, job) = job(|s| spec(s, BackupModeKind::Full, 3));
        assert_eq!(world.backup_jobs[&job].job.next_run, Some(at(HOUR)));
        assert_eq!(world.next_wake(), Some(at(HOUR)));
        assert_eq!(tick(&mut world, HOUR - 1), 0);
        for k in 1..=5 {
            assert_eq!(tick(&mut world, k * HOUR), 1, "run {k}");
        }
        assert_eq!(kinds(&world, &job), [K::Full, K::Full, K::Full]);
        assert_eq!(
            times(&world, &job),
            [at(5 * HOUR), at(4 * HOUR), at(3 * HOUR)]
        );
        let j = &world.backup_jobs[&job].job;
        assert_eq!(j.last_run, Some(at(5 * HOUR)));
        assert_eq!(j.next_run, Some(at(6 * HOUR)));
        assert!(j.recovery_points.iter().all(|p| p.size_gb == 40));
    }

    #[test]
    fn incrementals_merge_the_oldest_into_the_full_one_after_each_backup() {
        let (mut world, _, job) = job(|s| spec(s, BackupModeKind::Incremental, 3));
        tick(&mut world, HOUR);
        assert_eq!(kinds(&world, &job), [K::Full]);
        tick(&mut world, 2 * HOUR);
        tick(&mut world, 3 * HOUR);
        assert_eq!(
            kinds(&world, &job),
            [K::Incremental, K::Incremental, K::Full]
        );
        for k in 4..=6 {
            tick(&mut world, k * HOUR);
            assert_eq!(
                kinds(&world, &job),
                [K::Incremental, K::Incremental, K::Full],
                "after run {k}"
            );
        }
        // The full point is now the one of run 4 (runs 1 to 3 merged into it), at its size.
        assert_eq!(
            times(&world, &job),
            [at(6 * HOUR), at(5 * HOUR), at(4 * HOUR)]
        );
        let points = &world.backup_jobs[&job].job.recovery_points;
        assert_eq!((points[0].size_gb, points[2].size_gb), (2, 40));
    }

    #[test]
    fn with_a_merge_schedule_merges_wait_for_it() {
        let (mut world, _, job) = job(|s| BackupJobSpec {
            merge_schedule: Some("0 0 * * *".into()),
            ..spec(s, BackupModeKind::Incremental, 2)
        });
        // t0 is 08:00 UTC; runs at 09:00 to 12:00 pile up.
        for k in 1..=4 {
            tick(&mut world, k * HOUR);
        }
        assert_eq!(kinds(&world, &job).len(), 4);
        let midnight = 16 * HOUR;
        assert_eq!(world.backup_jobs[&job].next_merge, Some(at(midnight)));
        // Midnight: the run missed since 12:00 is made up once, then the merge trims to 2.
        assert_eq!(tick(&mut world, midnight), 1);
        assert_eq!(kinds(&world, &job), [K::Incremental, K::Full]);
        assert_eq!(times(&world, &job), [at(midnight), at(4 * HOUR)]);
        assert_eq!(
            world.backup_jobs[&job].next_merge,
            Some(at(midnight + 24 * HOUR))
        );
    }

    #[test]
    fn missed_runs_are_made_up_once_for_the_latest_time() {
        let (mut world, _, job) = job(|s| spec(s, BackupModeKind::Full, 10));
        assert_eq!(tick(&mut world, 5 * HOUR + 600), 1);
        assert_eq!(times(&world, &job), [at(5 * HOUR)]);
        assert_eq!(world.backup_jobs[&job].job.next_run, Some(at(6 * HOUR)));
        assert_eq!(tick(&mut world, 5 * HOUR + 900), 0);
    }

    #[test]
    fn runs_fail_for_a_stopped_server_and_when_injected() -> ProviderResult<()> {
        let (mut world, srv, job) = job(|s| spec(s, BackupModeKind::Full, 3));
        let rules = instant();
        Tx::new(&mut world, t0(), &rules).stop_server(&srv)?;
        tick(&mut world, HOUR);
        let j = &world.backup_jobs[&job].job;
        assert!(j.recovery_points.is_empty());
        assert_eq!(j.failures[0].at, at(HOUR));
        assert!(j.failures[0].reason.contains("Stopped"), "{:?}", j.failures);
        Tx::new(&mut world, at(HOUR), &rules).start_server(&srv)?;
        Tx::new(&mut world, at(HOUR), &rules).fail_backup_runs(&job, 2)?;
        for k in 2..=4 {
            tick(&mut world, k * HOUR);
        }
        let j = &world.backup_jobs[&job].job;
        assert_eq!(times(&world, &job), [at(4 * HOUR)]);
        assert_eq!(j.failures.len(), 3);
        assert!(j.failures[0].reason.contains("injected") && j.failures[0].at == at(3 * HOUR));
        // Failures are bounded, newest first.
        Tx::new(&mut world, at(4 * HOUR), &rules).fail_backup_runs(&job, 20)?;
        for k in 5..=20 {
            tick(&mut world, k * HOUR);
        }
        let j = &world.backup_jobs[&job].job;
        assert_eq!(j.failures.len(), MAX_FAILURES);
        assert_eq!(j.failures[0].at, at(20 * HOUR));
        Ok(())
    }

    #[test]
    fn specs_are_checked_by_field_and_updates_trim_the_points() -> ProviderResult<()> {
        let (mut world, srv, job) = job(|s| spec(s, BackupModeKind::Full, 5));
        let rules = instant();
        for (bad, expected) in [
            (
                BackupJobSpec {
                    schedule: "0 2 * *".into(),
                    ..spec(&srv, BackupModeKind::Full, 3)
                },
                "spec.schedule",
            ),
            (
                BackupJobSpec {
                    time_zone: "Asia/Atlantis".into(),
                    ..spec(&srv, BackupModeKind::Full, 3)
                },
                "spec.timeZone",
            ),
            (spec(&srv, BackupModeKind::Full, 0), "spec.generations 0"),
            (
                BackupJobSpec {
                    merge_schedule: Some("0 0 * * *".into()),
                    ..spec(&srv, BackupModeKind::Full, 3)
                },
                "spec.mergeSchedule is only for mode Incremental",
            ),
            (spec("srv-999999", BackupModeKind::Full, 3), "spec.serverId"),
        ] {
            let err = Tx::new(&mut world, t0(), &rules)
                .create::<BackupFamily>(token("x"), Tags::new(), bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(expected), "{err} / {expected}");
        }
        for k in 1..=5 {
            tick(&mut world, k * HOUR);
        }
        let op = Tx::new(&mut world, at(5 * HOUR), &rules)
            .update::<BackupFamily>(&job, spec(&srv, BackupModeKind::Full, 2))?;
        assert_eq!(world.operation(&op.id)?.state, OperationState::Succeeded);
        assert_eq!(times(&world, &job), [at(5 * HOUR), at(4 * HOUR)]);
        Ok(())
    }
}
