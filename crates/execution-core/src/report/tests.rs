use super::*;
use crate::actions::{ActionKind, ActionOnFailure, ActionRun, ActionStatus, ActionWhen};
use crate::audit::{StatusChange, WaveChange};
use crate::fixtures::{execution, execution_id, instance, job, plan_id, server};
use crate::model::{CleanupState, ServerCleanup, WaveJob};

const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn at(secs: i64) -> Timestamp {
    Timestamp(T0 + secs)
}

/// A job of `attempt` recorded at `recorded`, created by DRS at `created`, ended at `ended`.
fn wave_job(
    n: usize,
    attempt: u32,
    recorded: i64,
    created: Option<i64>,
    ended: Option<i64>,
) -> WaveJob {
    WaveJob {
        job_id: job(n),
        attempt,
        part: 0,
        recorded_time: at(recorded),
        created_time: created.map(at),
        ended_time: ended.map(at),
    }
}

/// Wave `w` of `e` launched by the engine at `launched`, every server in job `job_n` and
/// LAUNCHED with EC2 launch times `launch_times` (seconds after T0, one per server).
fn launched(e: &mut Execution, w: usize, launched: i64, job: WaveJob, launch_times: &[i64]) {
    let wave = &mut e.waves[w];
    wave.status = WaveStatus::Completed;
    wave.attempt = job.attempt.max(1);
    wave.launch_time = Some(at(launched));
    wave.attempt_time = Some(at(launched));
    for (s, t) in wave.server_statuses.iter_mut().zip(launch_times) {
        s.job_id = Some(job.job_id.clone());
        s.launch_status = LaunchStatus::Launched;
        s.launch_time = Some(at(*t));
        s.instance_id = Some(instance(1 + *t as usize));
        s.recovery_instance_id = Some(instance(100_000 + *t as usize));
    }
    wave.jobs.push(job);
}

fn event(secs: i64, n: u32, op: &str, actor: Actor) -> AuditEvent {
    AuditEvent {
        event_id: format!("{n:012}-h{n}"),
        execution_id: execution_id(),
        plan_id: plan_id(),
        time: at(secs),
        actor,
        operation: op.to_owned(),
        execution: None,
        decision: None,
        paused_before_wave: None,
        failed_wave: None,
        waves: vec![],
        reason: None,
        notes: vec![],
    }
}

fn moved(mut e: AuditEvent, from: ExecutionStatus, to: ExecutionStatus) -> AuditEvent {
    e.execution = Some(StatusChange {
        from: Some(from),
        to,
    });
    e
}

fn operator() -> Actor {
    Actor::Iam("arn:aws:sts::123456789012:assumed-role/dr-operator/alice".into())
}

/// The real case: the engine's record says 564 s (its claim to the poll that noticed), DRS's and
/// EC2's own clocks say 534 s. The report shows DRS's.
#[test]
fn a_recovery_time_is_measured_on_drs_and_ec2_clocks_not_on_polls() {
    let mut e = execution(&[2]);
    // The engine claimed at +0 and its poll saw the wave complete at +564; DRS created the job
    // at +12, and the instances launched at +530 and +546.
    launched(
        &mut e,
        0,
        0,
        wave_job(1, 1, 3, Some(12), Some(560)),
        &[530, 546],
    );
    e.waves[0].end_time = Some(at(564));
    e.waves[0].recovery_time_seconds = Some(564);
    e.header.status = ExecutionStatus::Completed;
    e.header.start_time = Some(at(0));
    e.header.end_time = Some(at(570));
    e.header.recovery_time_seconds = Some(564);

    let r = Report::build(&e, &[]);
    let w = &r.waves[0].recovery;
    assert_eq!(w.seconds, Some(534));
    assert_eq!(w.source, Some(FigureSource::Drs));
    assert_eq!(w.record_seconds, Some(564));
    assert_eq!(
        w.start,
        Some(TimePoint::new(
            at(12),
            TimeSource::Drs,
            "DRS job creationDateTime"
        ))
    );
    assert_eq!(
        w.end,
        Some(TimePoint::new(at(546), TimeSource::Ec2, "EC2 launchTime"))
    );
    assert_eq!(r.waves[0].recovery_time_seconds, Some(534));
    assert_eq!(r.recovery.seconds, Some(534));
    assert_eq!(r.recovery_time_seconds, Some(534));
    assert_eq!(r.recovery.record_seconds, Some(564));
    assert_eq!((w.paused_seconds, w.running_seconds), (Some(0), Some(534)));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["recovery"]["source"], "DRS");
    assert_eq!(json["recovery"]["start"]["source"], "DRS");
    assert_eq!(json["recovery"]["end"]["source"], "EC2");
    assert_eq!(json["recovery"]["verdict"], "NO_TARGET");
    assert_eq!(json["waves"][0]["recovery"]["recordSeconds"], 564);
}

#[test]
fn without_the_services_times_the_engines_stand_in_and_say_so() {
    // No DRS creation time: the wave's launch (engine). EC2 times all there: EC2.
    let mut e = execution(&[2]);
    launched(&mut e, 0, 5, wave_job(1, 1, 6, None, None), &[300, 320]);
    e.waves[0].end_time = Some(at(330));
    let w = &Report::build(&e, &[]).waves[0].recovery;
    assert_eq!(
        w.start.as_ref().map(|s| (s.time, s.source)),
        Some((at(5), TimeSource::Engine))
    );
    assert_eq!(w.source, Some(FigureSource::Engine));
    assert_eq!(w.seconds, Some(315));

    // A critical server without an EC2 launch time: the jobs' DRS end.
    let mut e = execution(&[2]);
    launched(
        &mut e,
        0,
        5,
        wave_job(1, 1, 6, Some(8), Some(400)),
        &[300, 320],
    );
    e.waves[0].server_statuses[1].launch_time = None;
    e.waves[0].end_time = Some(at(410));
    let w = &Report::build(&e, &[]).waves[0].recovery;
    assert_eq!(
        w.end.as_ref().map(|p| (p.time, p.source)),
        Some((at(400), TimeSource::Drs))
    );
    assert_eq!((w.seconds, w.source), (Some(392), Some(FigureSource::Drs)));

    // Nor a DRS end: the engine's end of the wave.
    e.waves[0].jobs[0].ended_time = None;
    let w = &Report::build(&e, &[]).waves[0].recovery;
    assert_eq!(
        w.end.as_ref().map(|p| (p.time, p.source)),
        Some((at(410), TimeSource::Engine))
    );
    assert_eq!(w.source, Some(FigureSource::Engine));

    // An OPTIONAL server's late launch does not count; only critical ones do.
    let mut e = execution(&[2]);
    launched(&mut e, 0, 0, wave_job(1, 1, 1, Some(2), None), &[100, 900]);
    e.waves[0].server_statuses[1].impact = Impact::Optional;
    assert_eq!(Report::build(&e, &[]).waves[0].recovery.seconds, Some(98));
}

#[test]
fn a_retried_wave_counts_from_its_first_attempt() {
    let mut e = execution(&[1]);
    launched(&mut e, 0, 0, wave_job(2, 2, 400, Some(405), None), &[900]);
    e.waves[0]
        .jobs
        .insert(0, wave_job(1, 1, 1, Some(10), Some(300)));
    e.waves[0].attempt = 2;
    let w = &Report::build(&e, &[]).waves[0];
    assert_eq!(w.recovery.start.as_ref().map(|s| s.time), Some(at(10)));
    assert_eq!(w.recovery.seconds, Some(890));
    assert_eq!(w.jobs.len(), 2);
    assert_eq!(
        (w.jobs[0].servers, w.jobs[1].servers),
        (0, 1),
        "a server counts in its latest job"
    );
}

/// The first attempt never reached DRS (refused until its timeout); the retry's job came much
/// later: the recovery still runs from the first attempt, on the engine's clock, and says so.
#[test]
fn a_wave_whose_first_attempt_started_no_job_counts_from_the_engines_first_ask() {
    let mut e = execution(&[1]);
    launched(
        &mut e,
        0,
        0,
        wave_job(2, 2, 4000, Some(4010), None),
        &[4600],
    );
    e.waves[0].attempt = 2;
    e.waves[0].target_rto_seconds = Some(900);
    let w = &Report::build(&e, &[]).waves[0];
    let start = w.recovery.start.as_ref().expect("a start");
    assert_eq!((start.time, start.source), (at(0), TimeSource::Engine));
    assert_eq!(w.recovery.seconds, Some(4600));
    assert_eq!(w.recovery.verdict, Verdict::Missed);

    // Held up by refusals that cleared: the first job a while after the first ask.
    let mut e = execution(&[1]);
    launched(&mut e, 0, 0, wave_job(1, 1, 300, Some(300), None), &[800]);
    let w = &Report::build(&e, &[]).waves[0];
    assert_eq!(w.recovery.start.as_ref().map(|s| s.time), Some(at(0)));
    assert_eq!(w.recovery.seconds, Some(800));
}

#[test]
fn targets_are_met_missed_not_set_or_not_finished() {
    let completed = |target: Option<u64>| {
        let mut e = execution(&[1, 1]);
        launched(&mut e, 0, 0, wave_job(1, 1, 1, Some(0), None), &[300]);
        launched(&mut e, 1, 400, wave_job(2, 1, 401, Some(400), None), &[700]);
        e.waves[0].target_rto_seconds = Some(300);
        e.waves[1].target_rto_seconds = Some(299);
        e.header.status = ExecutionStatus::Completed;
        e.header.target_rto_seconds = target;
        Report::build(&e, &[])
    };
    let r = completed(Some(700));
    assert_eq!(r.waves[0].recovery.verdict, Verdict::Met, "300 <= 300");
    assert_eq!(r.waves[1].recovery.verdict, Verdict::Missed, "300 > 299");
    assert_eq!(
        r.waves[1].recovery.note.as_deref(),
        Some("1s over the target")
    );
    assert_eq!(
        (r.recovery.seconds, r.recovery.verdict),
        (Some(700), Verdict::Met)
    );
    assert_eq!(completed(Some(699)).recovery.verdict, Verdict::Missed);
    assert_eq!(completed(None).recovery.verdict, Verdict::NoTarget);

    // Under way: not finished while within the target, missed once past it.
    let mut e = execution(&[1, 1]);
    launched(&mut e, 0, 0, wave_job(1, 1, 1, Some(0), None), &[300]);
    e.waves[1].status = WaveStatus::Started;
    e.waves[1].launch_time = Some(at(400));
    e.waves[1].target_rto_seconds = Some(600);
    e.header.status = ExecutionStatus::Polling;
    e.header.target_rto_seconds = Some(3600);
    e.header.last_polled_time = Some(at(900));
    let r = Report::build(&e, &[]);
    assert!(!r.finished);
    assert_eq!(r.as_of, at(900));
    assert_eq!(r.waves[1].recovery.verdict, Verdict::NotFinished);
    assert_eq!(r.recovery.verdict, Verdict::NotFinished);
    assert_eq!(r.recovery.seconds, None);
    assert_eq!(
        (r.recovery.paused_seconds, r.recovery.running_seconds),
        (Some(0), Some(900)),
        "measured up to the report's as-of"
    );
    e.header.last_polled_time = Some(at(1001));
    let r = Report::build(&e, &[]);
    assert_eq!(r.waves[1].recovery.verdict, Verdict::Missed, "601s > 600s");

    // A skipped wave: the execution is not wholly recovered, whatever its time.
    let mut e = execution(&[1, 1]);
    launched(&mut e, 1, 400, wave_job(2, 1, 401, Some(400), None), &[700]);
    e.waves[0].status = WaveStatus::Skipped;
    e.waves[0].attempt = 1;
    e.waves[0].launch_time = Some(at(0));
    e.waves[0].target_rto_seconds = Some(10_000);
    e.header.status = ExecutionStatus::CompletedWithErrors;
    e.header.target_rto_seconds = Some(10_000);
    let r = Report::build(&e, &[]);
    assert_eq!(r.recovery.verdict, Verdict::Missed);
    assert!(r
        .recovery
        .note
        .as_deref()
        .is_some_and(|n| n.contains("wave 0 skipped")));
    assert_eq!(r.waves[0].recovery.verdict, Verdict::Missed);

    // A failed execution missed its target; a wave it never reached too.
    e.header.status = ExecutionStatus::Failed;
    e.waves[0].status = WaveStatus::Failed;
    e.waves[1].status = WaveStatus::Cancelled;
    e.waves[1].target_rto_seconds = Some(10);
    let r = Report::build(&e, &[]);
    assert_eq!(
        (r.recovery.verdict, r.recovery.seconds),
        (Verdict::Missed, None)
    );
    assert_eq!(r.waves[1].recovery.verdict, Verdict::Missed);
}

/// The three-tier drill's shape: a planned pause before wave 1 (resumed by an operator), wave 1
/// failed and waited for a decision (skipped by another), and an operator's pause still standing.
fn paused_trail() -> Vec<AuditEvent> {
    let mut created = event(0, 1, "start", Actor::Cli("alice".into()));
    created.execution = Some(StatusChange {
        from: None,
        to: ExecutionStatus::Pending,
    });
    let mut planned = moved(
        event(600, 5, "pause", Actor::Workflow),
        ExecutionStatus::Polling,
        ExecutionStatus::Paused,
    );
    planned.decision = Some(Decision::PlannedPause);
    planned.paused_before_wave = Some(1);
    let resume = moved(
        event(720, 6, "resume", operator()),
        ExecutionStatus::Paused,
        ExecutionStatus::Polling,
    );
    let mut failed = moved(
        event(1300, 9, "poll", Actor::Workflow),
        ExecutionStatus::Polling,
        ExecutionStatus::Paused,
    );
    failed.decision = Some(Decision::WaveFailed);
    failed.failed_wave = Some(1);
    failed.waves.push(WaveChange {
        wave_number: 1,
        wave_name: Some("app".into()),
        status: Some(StatusChange {
            from: Some(WaveStatus::Started),
            to: WaveStatus::Failed,
        }),
        attempt: 1,
        job_ids: vec![],
        servers: vec![],
        cleanup: vec![],
        actions: vec![],
        failure_reason: Some(WaveFailure::ServersFailed),
        reason: Some("1 of 2 servers failed".into()),
        notes: vec![],
    });
    let mut skip = moved(
        event(1500, 10, "skip", Actor::Cli("bob".into())),
        ExecutionStatus::Paused,
        ExecutionStatus::Polling,
    );
    skip.waves.push(WaveChange {
        wave_number: 1,
        wave_name: Some("app".into()),
        status: Some(StatusChange {
            from: Some(WaveStatus::Failed),
            to: WaveStatus::Skipped,
        }),
        attempt: 1,
        job_ids: vec![],
        servers: vec![],
        cleanup: vec![],
        actions: vec![],
        failure_reason: None,
        reason: None,
        notes: vec![],
    });
    let mut operator_pause = moved(
        event(2000, 12, "pause", operator()),
        ExecutionStatus::Polling,
        ExecutionStatus::Paused,
    );
    operator_pause.decision = Some(Decision::OperatorPause);
    operator_pause.paused_before_wave = Some(2);
    vec![created, planned, resume, failed, skip, operator_pause]
}

#[test]
fn pauses_come_from_the_trail_with_who_paused_and_who_decided() {
    let mut e = execution(&[1, 2, 1]);
    launched(&mut e, 0, 0, wave_job(1, 1, 1, Some(10), None), &[500]);
    e.header.status = ExecutionStatus::Paused;
    e.header.pause_reason = Some(PauseReason::Operator);
    e.header.paused_before_wave = Some(2);
    e.header.last_polled_time = Some(at(2100));
    let trail = paused_trail();
    let r = Report::build(&e, &trail);
    assert_eq!(r.as_of, at(2100));
    assert_eq!(r.pauses.len(), 3);
    let p = &r.pauses[0];
    assert_eq!(
        (p.start, p.end, p.seconds, p.decision, p.paused_before_wave),
        (
            Some(at(600)),
            Some(at(720)),
            Some(120),
            Some(Decision::PlannedPause),
            Some(1)
        )
    );
    assert_eq!(p.paused_by.as_deref(), Some("the workflow"));
    assert_eq!(
        (p.ended_by.as_deref(), p.ended_with.as_deref(), p.ended_to),
        (
            Some("arn:aws:sts::123456789012:assumed-role/dr-operator/alice"),
            Some("resume"),
            Some(ExecutionStatus::Polling)
        )
    );
    let p = &r.pauses[1];
    assert_eq!(
        (p.seconds, p.decision, p.failed_wave, p.reason.as_deref()),
        (
            Some(200),
            Some(Decision::WaveFailed),
            Some(1),
            Some("1 of 2 servers failed")
        )
    );
    assert_eq!(
        (p.ended_by.as_deref(), p.ended_with.as_deref()),
        (Some("drctl as bob"), Some("skip"))
    );
    // Still standing: measured to the report's as-of.
    let p = &r.pauses[2];
    assert_eq!((p.end, p.seconds), (None, Some(100)));
    assert_eq!(
        p.paused_by.as_deref(),
        Some("arn:aws:sts::123456789012:assumed-role/dr-operator/alice")
    );

    // Within the recovery (from +10, DRS's creation of wave 0's job, to +2100): every pause.
    assert_eq!(r.recovery.paused_seconds, Some(120 + 200 + 100));
    assert_eq!(r.recovery.running_seconds, Some(2090 - 420));
    assert_eq!(r.paused_seconds, Some(420));

    // Decisions: each wait for a person and each person's answer, with who.
    let d: Vec<(Option<Decision>, &str, bool)> = r
        .timeline
        .decisions
        .iter()
        .map(|d| (d.decision, d.operation.as_str(), d.by_person))
        .collect();
    assert_eq!(
        d,
        [
            (Some(Decision::PlannedPause), "pause", false),
            (None, "resume", true),
            (Some(Decision::WaveFailed), "poll", false),
            (None, "skip", true),
            (Some(Decision::OperatorPause), "pause", true),
        ]
    );
    assert_eq!(r.timeline.decisions[3].wave_number, Some(1));
    assert!(r.timeline.decisions[1]
        .summary
        .starts_with("Execution moved from PAUSED to POLLING"));
    assert_eq!(
        r.timeline.end,
        Some(at(2100)),
        "an open pause runs to as-of"
    );
}

#[test]
fn a_pause_before_the_first_launch_is_not_in_the_recovery_time() {
    let mut e = execution(&[1]);
    launched(&mut e, 0, 200, wave_job(1, 1, 200, Some(205), None), &[505]);
    e.header.status = ExecutionStatus::Completed;
    let mut pause = moved(
        event(10, 2, "pause", Actor::Workflow),
        ExecutionStatus::Polling,
        ExecutionStatus::Paused,
    );
    pause.decision = Some(Decision::PlannedPause);
    let resume = moved(
        event(190, 3, "resume", operator()),
        ExecutionStatus::Paused,
        ExecutionStatus::Polling,
    );
    let r = Report::build(&e, &[pause, resume]);
    assert_eq!(r.pauses[0].seconds, Some(180));
    assert_eq!(r.recovery.seconds, Some(300));
    assert_eq!(
        (r.recovery.paused_seconds, r.recovery.running_seconds),
        (Some(0), Some(300))
    );
    assert_eq!(r.timeline.start, Some(at(10)), "the axis shows the pause");
}

#[test]
fn a_trail_that_begins_inside_a_pause_still_says_who_ended_it() {
    let e = execution(&[1]);
    let resume = moved(
        event(50, 3, "resume", operator()),
        ExecutionStatus::Paused,
        ExecutionStatus::Polling,
    );
    let r = Report::build(&e, &[resume]);
    assert_eq!(r.pauses.len(), 1);
    assert_eq!(
        (r.pauses[0].start, r.pauses[0].seconds),
        (None, None),
        "its start is not known"
    );
    assert_eq!(r.pauses[0].ended_with.as_deref(), Some("resume"));
}

#[test]
fn every_failure_is_listed_with_drs_reason_or_says_drs_gave_none() {
    let mut e = execution(&[2, 3]);
    launched(
        &mut e,
        0,
        0,
        wave_job(1, 1, 1, Some(2), Some(300)),
        &[250, 260],
    );
    // Wave 0 completed although its OPTIONAL server failed.
    let s = &mut e.waves[0].server_statuses[1];
    s.impact = Impact::Optional;
    s.launch_status = LaunchStatus::Failed;
    s.launch_time = None;
    s.instance_id = None;
    s.recovery_instance_id = None;
    s.drs_reason = Some("Failed to launch: insufficient capacity in us-east-1a".into());
    // Wave 1 failed: one server with DRS's reason, one without, one the job left out.
    let w = &mut e.waves[1];
    w.status = WaveStatus::Failed;
    w.attempt = 1;
    w.launch_time = Some(at(400));
    w.end_time = Some(at(900));
    w.failure_reason = Some(WaveFailure::ServersFailed);
    w.status_message = Some("3 of 3 servers did not launch".into());
    w.jobs.push(wave_job(2, 1, 401, Some(402), Some(880)));
    for s in &mut w.server_statuses {
        s.job_id = Some(job(2));
        s.launch_status = LaunchStatus::Failed;
    }
    w.server_statuses[0].drs_reason = Some("Conversion failed".into());
    w.server_statuses[2].status_message = Some("not in the DRS job".into());
    w.server_statuses[2].job_id = None;
    e.header.status = ExecutionStatus::Failed;

    let r = Report::build(&e, &[]);
    assert_eq!(r.failures.len(), 1);
    let f = &r.failures[0];
    assert_eq!(
        (
            f.wave_number,
            f.reason,
            f.message.as_deref(),
            f.servers.len()
        ),
        (
            1,
            Some(WaveFailure::ServersFailed),
            Some("3 of 3 servers did not launch"),
            3
        )
    );
    let reasons: Vec<(u32, &str)> = r
        .failed_servers
        .iter()
        .map(|s| (s.wave_number, s.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (0, "Failed to launch: insufficient capacity in us-east-1a"),
            (1, "Conversion failed"),
            (1, NO_DRS_REASON),
            (1, "DRS gave no reason; the engine: not in the DRS job"),
        ]
    );
    assert_eq!(
        r.failed_servers[1].failed_at.as_ref().map(|p| p.source),
        Some(TimeSource::Drs)
    );
    assert_eq!(
        r.failed_servers[3].failed_at.as_ref().map(|p| p.source),
        Some(TimeSource::Engine),
        "no job: the wave's end"
    );
    // The failed wave's bar is in another colour; its servers' bars end at the job's end.
    let tw = &r.timeline.waves[1];
    assert_eq!(tw.bar.outcome, Outcome::Failed);
    assert_eq!(
        tw.servers.iter().map(|s| s.bar.outcome).collect::<Vec<_>>(),
        [Outcome::Failed, Outcome::Failed, Outcome::NotStarted]
    );
    assert_eq!(
        tw.servers[0].bar.end.as_ref().map(|p| p.time),
        Some(at(880))
    );
    assert_eq!(r.waves[0].optional_not_launched.len(), 1);
    assert_eq!(
        (r.recovery.verdict, r.recovery.note.as_deref()),
        (
            Verdict::NoTarget,
            Some("the execution ended FAILED: not recovered")
        )
    );
}

#[test]
fn the_timeline_has_a_bar_per_server_from_its_job_to_its_instance() {
    let mut e = execution(&[2, 1]);
    launched(&mut e, 0, 0, wave_job(1, 1, 3, Some(12), None), &[530, 546]);
    e.waves[1].status = WaveStatus::Started;
    e.waves[1].attempt = 1;
    e.waves[1].launch_time = Some(at(700));
    e.waves[1].jobs.push(wave_job(2, 1, 701, None, None));
    e.waves[1].server_statuses[0].job_id = Some(job(2));
    e.waves[1].server_statuses[0].launch_status = LaunchStatus::InProgress;
    e.header.status = ExecutionStatus::Polling;
    e.header.last_polled_time = Some(at(760));
    let r = Report::build(&e, &[]);
    let t = &r.timeline;
    assert_eq!((t.start, t.end), (Some(at(12)), Some(at(760))));
    let bars: Vec<(Option<Timestamp>, Option<Timestamp>, Outcome)> = t
        .waves
        .iter()
        .flat_map(|w| &w.servers)
        .map(|s| {
            (
                s.bar.start.as_ref().map(|p| p.time),
                s.bar.end.as_ref().map(|p| p.time),
                s.bar.outcome,
            )
        })
        .collect();
    assert_eq!(
        bars,
        [
            (Some(at(12)), Some(at(530)), Outcome::Launched),
            (Some(at(12)), Some(at(546)), Outcome::Launched),
            (Some(at(701)), None, Outcome::InProgress),
        ]
    );
    assert_eq!(
        t.waves[1].servers[0].bar.start.as_ref().map(|p| p.source),
        Some(TimeSource::Engine)
    );
    assert_eq!(t.waves[1].bar.outcome, Outcome::InProgress);
    assert!(t.marks.is_empty(), "not ended: no end mark");
    // The instances, per server.
    assert_eq!(r.instances.len(), 2);
    assert_eq!(r.instances[0].instance.launch_time, Some(at(530)));
}

#[test]
fn cleanup_says_what_it_did_per_server_and_in_sum() {
    let mut e = execution(&[3]);
    launched(
        &mut e,
        0,
        0,
        wave_job(1, 1, 1, Some(2), None),
        &[100, 110, 120],
    );
    e.header.status = ExecutionStatus::Completed;
    e.header.end_time = Some(at(130));
    e.header.cleanup_after_seconds = Some(3600);
    let r = Report::build(&e, &[]);
    assert_eq!(r.cleanup.summary.instances, 3);
    assert!(r
        .cleanup
        .summary
        .text
        .starts_with("Cleanup has not run yet"));
    assert_eq!(r.timeline.marks[0].kind, "EXECUTION_ENDED");

    let ri = |s: &ServerStatus| {
        s.recovery_instance_id
            .clone()
            .unwrap_or_else(|| instance(0))
    };
    let servers = &mut e.waves[0].server_statuses;
    let first = ri(&servers[0]);
    servers[0].cleanup = Some(ServerCleanup {
        state: CleanupState::Terminated,
        recovery_instance_id: first,
        job_id: Some(job(9)),
        requested_time: at(3730),
        terminated_time: Some(at(3800)),
    });
    let second = ri(&servers[1]);
    servers[1].cleanup = Some(ServerCleanup {
        state: CleanupState::Gone,
        recovery_instance_id: second,
        job_id: None,
        requested_time: at(3730),
        terminated_time: None,
    });
    let r = Report::build(&e, &[]);
    let s = &r.cleanup.summary;
    assert_eq!(
        (s.terminated, s.gone, s.untouched, s.complete),
        (1, 1, 1, false)
    );
    assert_eq!(r.cleanup.servers[0].job_id, Some(job(9)));
    assert_eq!(r.as_of, at(3800));
    let third = ri(&e.waves[0].server_statuses[2]);
    e.waves[0].server_statuses[2].cleanup = Some(ServerCleanup {
        state: CleanupState::Terminated,
        recovery_instance_id: third,
        job_id: Some(job(9)),
        requested_time: at(3730),
        terminated_time: Some(at(3800)),
    });
    let s = Report::build(&e, &[]).cleanup.summary;
    assert!(s.complete);
    assert_eq!(
        s.text,
        "Cleanup is complete: 2 terminated, 1 already gone, of 3 recovery instances."
    );

    e.header.is_drill = false;
    assert!(Report::build(&e, &[])
        .cleanup
        .summary
        .text
        .contains("production"));
}

#[test]
fn the_report_keeps_the_names_and_the_trail_as_they_are() {
    let mut e = execution(&[1]);
    e.header.plan_name = Some("<script>alert(1)</script>|x".into());
    e.waves[0].server_statuses[0].server_name = Some("db\u{1b}[31m".into());
    let trail = paused_trail();
    let r = Report::build(&e, &trail);
    assert_eq!(r.plan_name.as_deref(), Some("<script>alert(1)</script>|x"));
    assert_eq!(r.server_name(&server(0)), Some("db\u{1b}[31m"));
    assert_eq!(r.events, trail);
    assert_eq!(r.kind, Kind::Drill);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["kind"], "DRILL");
    assert_eq!(json["events"].as_array().map(Vec::len), Some(trail.len()));
    assert!(json["timeline"]["marks"].is_array());
}

// ---------------------------------------------------------------------------------------------
// Wave actions
// ---------------------------------------------------------------------------------------------

fn wave_action(
    name: &str,
    when: ActionWhen,
    kind: ActionKind,
    on_failure: ActionOnFailure,
) -> crate::actions::WaveAction {
    let target = match kind {
        ActionKind::Lambda => format!("arn:aws:lambda:us-east-1:111122223333:function:{name}"),
        ActionKind::SsmAutomation => format!("Drs-{name}"),
    };
    // Through the record's JSON, as a stored wave holds it.
    serde_json::from_value(serde_json::json!({
        "name": name, "when": when, "type": kind, "target": target, "timeoutSeconds": 300,
        "onFailure": on_failure,
    }))
    .expect("an action")
}

/// A run of `name` taken at `start` (seconds after T0), ended at `end` as `status`.
fn action_run(
    name: &str,
    when: ActionWhen,
    attempt: u32,
    status: ActionStatus,
    start: i64,
    end: Option<i64>,
) -> ActionRun {
    let mut run: ActionRun = serde_json::from_value(serde_json::json!({
        "name": name, "when": when, "attempt": attempt, "status": status,
        "startTime": at(start), "claimedTime": at(start),
    }))
    .expect("a run");
    run.end_time = end.map(at);
    run.summary = (status == ActionStatus::Succeeded).then(|| "{\"ok\":true}".to_owned());
    run.error = status
        .is_failure()
        .then(|| format!("{name} said no (attempt {attempt})"));
    run
}

/// Two waves run to the end with an action on each side of each: wave 0's `pre-check` (a Lambda,
/// before launch, -60..-30) and `dns-switch` (a runbook, after complete, 560..620); wave 1's
/// `warm-cache` (630..650) and `smoke` (1210..1300). The waves' recoveries are as DRS and EC2
/// dated them: wave 0 from 12 to 546, wave 1 from 700 to 1200.
fn with_actions() -> Execution {
    use ActionWhen::{AfterComplete, BeforeLaunch};
    let mut e = execution(&[2, 1]);
    launched(
        &mut e,
        0,
        0,
        wave_job(1, 1, 3, Some(12), Some(550)),
        &[530, 546],
    );
    e.waves[0].end_time = Some(at(556));
    launched(
        &mut e,
        1,
        690,
        wave_job(2, 1, 695, Some(700), Some(1205)),
        &[1200],
    );
    e.waves[1].end_time = Some(at(1206));
    let fail = ActionOnFailure::Fail;
    e.waves[0].actions = vec![
        wave_action("pre-check", BeforeLaunch, ActionKind::Lambda, fail),
        wave_action("dns-switch", AfterComplete, ActionKind::SsmAutomation, fail),
    ];
    e.waves[1].actions = vec![
        wave_action("warm-cache", BeforeLaunch, ActionKind::Lambda, fail),
        wave_action("smoke", AfterComplete, ActionKind::Lambda, fail),
    ];
    let ok = ActionStatus::Succeeded;
    e.waves[0].action_runs = vec![
        action_run("pre-check", BeforeLaunch, 1, ok, -60, Some(-30)),
        action_run("dns-switch", AfterComplete, 1, ok, 560, Some(620)),
    ];
    e.waves[0].action_runs[1].automation_execution_id =
        Some("0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b".into());
    e.waves[0].action_runs[1].summary = Some("Success".into());
    e.waves[1].action_runs = vec![
        action_run("warm-cache", BeforeLaunch, 1, ok, 630, Some(650)),
        action_run("smoke", AfterComplete, 1, ok, 1210, Some(1300)),
    ];
    e.header.status = ExecutionStatus::Completed;
    e.header.start_time = Some(at(0));
    e.header.end_time = Some(at(1310));
    e
}

/// A run as the tests compare it: wave, action, when, start, end, seconds.
type RunRow<'a> = (u32, &'a str, ActionWhen, Timestamp, Option<Timestamp>, u64);
/// A mark as the tests compare it: time, kind, wave, action, attempt.
type MarkRow<'a> = (
    Timestamp,
    &'a str,
    Option<u32>,
    Option<&'a str>,
    Option<u32>,
);

#[test]
fn every_action_run_is_listed_in_time_order_with_what_its_action_is() {
    let r = Report::build(&with_actions(), &[]);
    let runs: Vec<RunRow<'_>> = r
        .actions
        .iter()
        .map(|a| {
            (
                a.wave_number,
                a.name.as_str(),
                a.when,
                a.start_time,
                a.end_time,
                a.seconds,
            )
        })
        .collect();
    assert_eq!(
        runs,
        [
            (
                0,
                "pre-check",
                ActionWhen::BeforeLaunch,
                at(-60),
                Some(at(-30)),
                30
            ),
            (
                0,
                "dns-switch",
                ActionWhen::AfterComplete,
                at(560),
                Some(at(620)),
                60
            ),
            (
                1,
                "warm-cache",
                ActionWhen::BeforeLaunch,
                at(630),
                Some(at(650)),
                20
            ),
            (
                1,
                "smoke",
                ActionWhen::AfterComplete,
                at(1210),
                Some(at(1300)),
                90
            ),
        ]
    );
    let dns = &r.actions[1];
    assert_eq!(dns.kind, Some(ActionKind::SsmAutomation));
    assert_eq!(dns.target.as_deref(), Some("Drs-dns-switch"));
    assert_eq!(dns.on_failure, Some(ActionOnFailure::Fail));
    assert_eq!(dns.timeout_seconds, Some(300));
    assert_eq!(
        dns.automation_execution_id.as_deref(),
        Some("0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b")
    );
    assert_eq!(
        (
            dns.attempt,
            dns.status,
            dns.summary.as_deref(),
            dns.failed_the_wave
        ),
        (1, ActionStatus::Succeeded, Some("Success"), false)
    );
    assert!(r.failed_actions.is_empty());
    assert!(r.failures.is_empty());
    // Sorted by start, whatever the wave: a later wave's run that started first comes first.
    let mut e = with_actions();
    e.waves[1].action_runs[0].start_time = at(-100);
    let r = Report::build(&e, &[]);
    assert_eq!(r.actions[0].name, "warm-cache");
}

#[test]
fn action_time_is_shown_per_wave_and_outside_the_recovery_times() {
    let e = with_actions();
    let r = Report::build(&e, &[]);
    let w0 = r.waves[0].action_time.expect("wave 0 has actions");
    assert_eq!(
        (
            w0.runs,
            w0.before_launch_seconds,
            w0.after_complete_seconds,
            w0.seconds
        ),
        (2, 30, 60, 90)
    );
    let w1 = r.waves[1].action_time.expect("wave 1 has actions");
    assert_eq!(
        (w1.before_launch_seconds, w1.after_complete_seconds),
        (20, 90)
    );
    let all = r.action_time.expect("the plan has actions");
    assert_eq!(
        (
            all.runs,
            all.failed_runs,
            all.running_runs,
            all.before_launch_seconds,
            all.after_complete_seconds,
            all.seconds
        ),
        (4, 0, 0, 50, 150, 200)
    );

    // The recovery times are what they are without the actions: DRS's and EC2's clocks.
    let mut bare = e.clone();
    for w in &mut bare.waves {
        w.actions.clear();
        w.action_runs.clear();
    }
    let without = Report::build(&bare, &[]);
    assert_eq!(r.waves[0].recovery.seconds, Some(534));
    assert_eq!(r.recovery.seconds, Some(1188), "from 12 to 1200");
    for (with, without) in std::iter::once((&r.recovery, &without.recovery)).chain(
        r.waves
            .iter()
            .map(|w| &w.recovery)
            .zip(without.waves.iter().map(|w| &w.recovery)),
    ) {
        assert_eq!(
            (
                &with.start,
                &with.end,
                with.seconds,
                with.paused_seconds,
                with.verdict
            ),
            (
                &without.start,
                &without.end,
                without.seconds,
                without.paused_seconds,
                without.verdict
            )
        );
        assert_eq!(without.action_seconds, None, "no action: no figure");
    }
    // Within the execution's recovery: the actions between the waves (dns-switch, warm-cache),
    // not wave 0's before-launch one nor wave 1's after-complete one. Within a wave's: none.
    assert_eq!(r.recovery.action_seconds, Some(60 + 20));
    assert_eq!(r.waves[0].recovery.action_seconds, Some(0));
    assert_eq!(r.waves[1].recovery.action_seconds, Some(0));
    assert!(without.action_time.is_none() && without.waves[0].action_time.is_none());
    assert!(without.actions.is_empty() && without.failed_actions.is_empty());

    // The axis runs from the first action's start to the execution's end.
    assert_eq!(
        (r.timeline.start, r.timeline.end),
        (Some(at(-60)), Some(at(1310)))
    );
    assert_eq!(r.as_of, at(1310));

    // JSON: camelCase, as the other fields; absent where the plan has no action.
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["actions"][1]["type"], "SSM_AUTOMATION");
    assert_eq!(json["actions"][1]["when"], "AFTER_COMPLETE");
    assert_eq!(json["actions"][1]["onFailure"], "FAIL");
    assert_eq!(
        json["actions"][1]["automationExecutionId"],
        "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
    );
    assert_eq!(json["actions"][1]["failedTheWave"], false);
    assert_eq!(json["actions"][1]["startTime"], T0 + 560);
    assert_eq!(json["waves"][0]["actionTime"]["beforeLaunchSeconds"], 30);
    assert_eq!(json["waves"][0]["actionTime"]["afterCompleteSeconds"], 60);
    assert_eq!(json["actionTime"]["seconds"], 200);
    assert_eq!(json["recovery"]["actionSeconds"], 80);
    assert_eq!(json["failedActions"], serde_json::json!([]));
    let json = serde_json::to_value(&without).unwrap();
    assert!(json.get("actionTime").is_none());
    assert!(json["recovery"].get("actionSeconds").is_none());
    assert!(json["waves"][0].get("actionTime").is_none());
    assert_eq!(json["actions"], serde_json::json!([]));
}

#[test]
fn each_run_is_marked_on_the_timeline_at_its_start_and_its_end_by_kind() {
    let mut e = with_actions();
    // smoke failed, and CONTINUEs.
    e.waves[1].actions[1].on_failure = ActionOnFailure::Continue;
    e.waves[1].action_runs[1] = action_run(
        "smoke",
        ActionWhen::AfterComplete,
        1,
        ActionStatus::Failed,
        1210,
        Some(1300),
    );
    e.header.status = ExecutionStatus::CompletedWithErrors;
    let r = Report::build(&e, &[]);
    let marks: Vec<MarkRow<'_>> = r
        .timeline
        .marks
        .iter()
        .map(|m| {
            (
                m.time,
                m.kind.as_str(),
                m.wave_number,
                m.action.as_deref(),
                m.attempt,
            )
        })
        .collect();
    assert_eq!(
        marks,
        [
            (
                at(-60),
                "BEFORE_LAUNCH_ACTION_STARTED",
                Some(0),
                Some("pre-check"),
                Some(1)
            ),
            (
                at(-30),
                "BEFORE_LAUNCH_ACTION_SUCCEEDED",
                Some(0),
                Some("pre-check"),
                Some(1)
            ),
            (
                at(560),
                "AFTER_COMPLETE_ACTION_STARTED",
                Some(0),
                Some("dns-switch"),
                Some(1)
            ),
            (
                at(620),
                "AFTER_COMPLETE_ACTION_SUCCEEDED",
                Some(0),
                Some("dns-switch"),
                Some(1)
            ),
            (
                at(630),
                "BEFORE_LAUNCH_ACTION_STARTED",
                Some(1),
                Some("warm-cache"),
                Some(1)
            ),
            (
                at(650),
                "BEFORE_LAUNCH_ACTION_SUCCEEDED",
                Some(1),
                Some("warm-cache"),
                Some(1)
            ),
            (
                at(1210),
                "AFTER_COMPLETE_ACTION_STARTED",
                Some(1),
                Some("smoke"),
                Some(1)
            ),
            (
                at(1300),
                "AFTER_COMPLETE_ACTION_FAILED",
                Some(1),
                Some("smoke"),
                Some(1)
            ),
            (at(1310), "EXECUTION_ENDED", None, None, None),
        ]
    );
    assert!(
        r.timeline
            .marks
            .iter()
            .filter(|m| is_action_mark(m))
            .count()
            == 8
    );
    let failed = &r.timeline.marks[7].label;
    assert_eq!(
        failed,
        "wave 1: AFTER_COMPLETE action smoke FAILED (attempt 1; onFailure CONTINUE: the execution went on): smoke said no (attempt 1)"
    );
    assert_eq!(
        r.timeline.marks[0].label,
        "wave 0: BEFORE_LAUNCH action pre-check started (attempt 1)"
    );
    assert_eq!(
        action_mark_kind(ActionWhen::BeforeLaunch, Some(ActionStatus::TimedOut)),
        "BEFORE_LAUNCH_ACTION_TIMED_OUT"
    );
}

#[test]
fn a_failed_fail_action_is_its_waves_failure_with_its_error() {
    use crate::actions::{settle_run, RunEnd};
    // Wave 1's smoke test (AFTER_COMPLETE, FAIL) failed after its servers launched.
    let mut e = with_actions();
    let w = &mut e.waves[1];
    w.action_runs[1] = action_run(
        "smoke",
        ActionWhen::AfterComplete,
        1,
        ActionStatus::Running,
        1210,
        None,
    );
    let error = "function error (Unhandled): <b>port 443</b> closed | `rm -rf`";
    let to = settle_run(
        w,
        "smoke",
        1,
        &RunEnd::Failed {
            error: error.into(),
        },
        at(1300),
    );
    assert_eq!(to, Some(WaveStatus::Failed));
    w.status = WaveStatus::Failed;
    e.header.status = ExecutionStatus::Failed;
    let r = Report::build(&e, &[]);

    assert_eq!(r.failures.len(), 1);
    let f = &r.failures[0];
    assert_eq!(
        (f.wave_number, f.reason),
        (1, Some(WaveFailure::ActionFailed))
    );
    assert!(f.servers.is_empty(), "its servers launched");
    let action = f.action.as_ref().expect("the run that failed the wave");
    assert_eq!(
        (
            action.name.as_str(),
            action.when,
            action.status,
            action.error.as_deref(),
            action.failed_the_wave
        ),
        (
            "smoke",
            ActionWhen::AfterComplete,
            ActionStatus::Failed,
            Some(error),
            true
        )
    );
    assert_eq!(r.failed_actions, vec![action.clone()]);
    assert!(r.failed_servers.is_empty());
    assert_eq!(
        r.waves[1].recovery.note.as_deref(),
        Some("the wave failed: its AFTER_COMPLETE action smoke FAILED (attempt 1)")
    );
    assert_eq!(
        r.timeline
            .marks
            .iter()
            .rev()
            .nth(1)
            .map(|m| m.kind.as_str()),
        Some("AFTER_COMPLETE_ACTION_FAILED")
    );
    assert!(r.timeline.marks[r.timeline.marks.len() - 2]
        .label
        .contains("it failed the wave"));
    assert_eq!(r.action_time.map(|t| t.failed_runs), Some(1));
    // Skipped after it failed: still listed, with the action that failed it.
    let mut skipped = e.clone();
    skipped.waves[1].status = WaveStatus::Skipped;
    skipped.header.status = ExecutionStatus::CompletedWithErrors;
    let r = Report::build(&skipped, &[]);
    assert_eq!(
        (
            r.failures[0].status,
            r.failures[0].action.as_ref().map(|a| a.name.as_str())
        ),
        (WaveStatus::Skipped, Some("smoke"))
    );
    assert_eq!(
        r.waves[1].recovery.note.as_deref(),
        Some(
            "the wave failed: its AFTER_COMPLETE action smoke FAILED (attempt 1), and was skipped"
        )
    );

    // A BEFORE_LAUNCH action that timed out: the wave never launched.
    let mut e = execution(&[1]);
    e.waves[0].actions = vec![wave_action(
        "db-check",
        ActionWhen::BeforeLaunch,
        ActionKind::SsmAutomation,
        ActionOnFailure::Fail,
    )];
    e.waves[0].action_runs = vec![action_run(
        "db-check",
        ActionWhen::BeforeLaunch,
        1,
        ActionStatus::Running,
        0,
        None,
    )];
    let to = settle_run(
        &mut e.waves[0],
        "db-check",
        1,
        &RunEnd::TimedOut {
            error: "no end within 300s".into(),
        },
        at(301),
    );
    assert_eq!(to, Some(WaveStatus::Failed));
    e.waves[0].status = WaveStatus::Failed;
    e.header.status = ExecutionStatus::Failed;
    e.header.end_time = Some(at(302));
    let r = Report::build(&e, &[]);
    let f = &r.failures[0];
    assert_eq!(f.reason, Some(WaveFailure::ActionFailed));
    assert_eq!(
        f.action.as_ref().map(|a| (a.status, a.seconds)),
        Some((ActionStatus::TimedOut, 301))
    );
    assert_eq!(r.timeline.waves[0].bar.outcome, Outcome::NotStarted);
    assert_eq!(r.timeline.marks[1].kind, "BEFORE_LAUNCH_ACTION_TIMED_OUT");
    assert_eq!(
        (r.timeline.start, r.timeline.end),
        (Some(at(0)), Some(at(302)))
    );
    assert_eq!(r.recovery.action_seconds, Some(0), "nothing was recovered");
}

#[test]
fn a_continue_failure_is_listed_without_failing_its_wave() {
    let mut e = with_actions();
    e.waves[0].actions[1].on_failure = ActionOnFailure::Continue;
    e.waves[0].action_runs[1].status = ActionStatus::TimedOut;
    e.waves[0].action_runs[1].summary = None;
    e.waves[0].action_runs[1].error = Some("no end within 300s; the runbook was stopped".into());
    let r = Report::build(&e, &[]);
    assert!(r.failures.is_empty(), "the wave completed");
    assert_eq!(r.waves[0].status, WaveStatus::Completed);
    assert_eq!(r.failed_actions.len(), 1);
    let a = &r.failed_actions[0];
    assert_eq!(
        (
            a.name.as_str(),
            a.status,
            a.on_failure,
            a.failed_the_wave,
            a.error.as_deref()
        ),
        (
            "dns-switch",
            ActionStatus::TimedOut,
            Some(ActionOnFailure::Continue),
            false,
            Some("no end within 300s; the runbook was stopped")
        )
    );
    assert_eq!(r.recovery.verdict, Verdict::NoTarget);
    assert_eq!(r.recovery.note, None);
}

#[test]
fn a_retried_action_shows_every_attempt_and_the_one_that_failed_the_wave() {
    let mut e = with_actions();
    // dns-switch failed its wave at 620, an operator retried at 700, attempt 2 succeeded.
    let w = &mut e.waves[0];
    w.action_runs[1].status = ActionStatus::Failed;
    w.action_runs[1].summary = None;
    w.action_runs[1].error = Some("Failed".into());
    let mut second = action_run(
        "dns-switch",
        ActionWhen::AfterComplete,
        2,
        ActionStatus::Succeeded,
        700,
        Some(720),
    );
    second.summary = Some("Success".into());
    w.action_runs.push(second);
    let r = Report::build(&e, &[]);
    assert!(r.failures.is_empty(), "the wave completed in the end");
    let dns: Vec<(u32, ActionStatus, bool)> = r
        .actions
        .iter()
        .filter(|a| a.name == "dns-switch")
        .map(|a| (a.attempt, a.status, a.failed_the_wave))
        .collect();
    assert_eq!(
        dns,
        [
            (1, ActionStatus::Failed, true),
            (2, ActionStatus::Succeeded, false)
        ]
    );
    assert_eq!(r.failed_actions.len(), 1);
    assert_eq!(
        r.waves[0].action_time.map(|t| t.after_complete_seconds),
        Some(80)
    );
}

#[test]
fn a_running_action_is_shown_running_up_to_the_reports_as_of() {
    let mut e = with_actions();
    // Wave 1 has not launched: its warm-cache runbook runs (started 630, SSM answered).
    let w = &mut e.waves[1];
    w.status = WaveStatus::Pending;
    w.attempt = 0;
    w.launch_time = None;
    w.attempt_time = None;
    w.end_time = None;
    w.jobs.clear();
    for s in &mut w.server_statuses {
        *s = ServerStatus::new(s.source_server_id.clone(), s.server_name.clone());
    }
    w.action_runs = vec![action_run(
        "warm-cache",
        ActionWhen::BeforeLaunch,
        1,
        ActionStatus::Running,
        630,
        None,
    )];
    w.action_runs[0].automation_execution_id = Some("a1b2".into());
    w.action_runs[0].claimed_time = at(640);
    e.header.status = ExecutionStatus::Polling;
    e.header.end_time = None;
    e.header.last_polled_time = Some(at(700));
    let r = Report::build(&e, &[]);
    assert_eq!(r.as_of, at(700));
    let a = r.actions.last().expect("the running run");
    assert_eq!(
        (a.status, a.end_time, a.seconds, a.failed_the_wave),
        (ActionStatus::Running, None, 70, false)
    );
    assert_eq!(
        r.waves[1]
            .action_time
            .map(|t| (t.running_runs, t.before_launch_seconds)),
        Some((1, 70))
    );
    // Its start is marked, its end is not yet; the axis runs to as-of.
    let last = r.timeline.marks.last().expect("marks");
    assert_eq!(
        (last.kind.as_str(), last.time),
        ("BEFORE_LAUNCH_ACTION_STARTED", at(630))
    );
    assert_eq!(r.timeline.end, Some(at(700)));
    // The execution's recovery so far holds dns-switch and the running run, up to as-of.
    assert_eq!(r.recovery.action_seconds, Some(60 + 70));
    assert!(r.failed_actions.is_empty());

    // The claim alone moves as-of (act took it and sent it again at 710).
    e.waves[1].action_runs[0].claimed_time = at(710);
    let r = Report::build(&e, &[]);
    assert_eq!(r.as_of, at(710));
    assert_eq!(r.actions.last().map(|a| a.seconds), Some(80));
}

#[test]
fn covered_time_counts_overlapping_spans_once() {
    let s = |a: i64, b: i64| (at(a), at(b));
    assert_eq!(covered_within(&[], at(0), at(100)), 0);
    assert_eq!(
        covered_within(&[s(10, 20), s(15, 30), s(50, 60)], at(0), at(100)),
        30
    );
    assert_eq!(covered_within(&[s(-10, 5), s(95, 200)], at(0), at(100)), 10);
    assert_eq!(covered_within(&[s(10, 90)], at(20), at(30)), 10);
}

// ---------------------------------------------------------------------------------------------
// Wave boundaries
// ---------------------------------------------------------------------------------------------

/// A boundary as the tests compare it: from wave, to wave, its ends (time and clock), gap, paused,
/// in actions, engine wait.
type BoundaryRow = (
    u32,
    u32,
    (Timestamp, TimeSource),
    (Timestamp, TimeSource),
    u64,
    u64,
    u64,
    u64,
);

fn boundary_rows(r: &Report) -> Vec<BoundaryRow> {
    r.boundaries
        .iter()
        .map(|b| {
            (
                b.from_wave,
                b.to_wave,
                (b.from.time, b.from.source),
                (b.to.time, b.to.source),
                b.gap_seconds,
                b.paused_seconds,
                b.action_seconds,
                b.wait_seconds,
            )
        })
        .collect()
}

/// Three waves run to the end. Wave 0's job ended (DRS) at 550 and the engine noticed at 560;
/// wave 1 was launched at 575, its job created at 580 and ended at 1100; wave 2 was launched at
/// 1140, its job created at 1145.
fn three_waves() -> Execution {
    let mut e = execution(&[2, 1, 1]);
    launched(
        &mut e,
        0,
        0,
        wave_job(1, 1, 3, Some(10), Some(550)),
        &[530, 546],
    );
    e.waves[0].end_time = Some(at(560));
    launched(
        &mut e,
        1,
        575,
        wave_job(2, 1, 577, Some(580), Some(1100)),
        &[1090],
    );
    e.waves[1].end_time = Some(at(1110));
    launched(
        &mut e,
        2,
        1140,
        wave_job(3, 1, 1142, Some(1145), Some(1500)),
        &[1490],
    );
    e.waves[2].end_time = Some(at(1505));
    e.waves[0].wave_name = Some("database".into());
    e.waves[1].wave_name = Some("app".into());
    e.header.status = ExecutionStatus::Completed;
    e.header.start_time = Some(at(0));
    e.header.end_time = Some(at(1510));
    e
}

#[test]
fn each_wave_boundary_runs_from_the_last_drs_launch_to_the_next_waves_first_job() {
    use TimeSource::Drs;
    let r = Report::build(&three_waves(), &[]);
    assert_eq!(
        boundary_rows(&r),
        [
            (0, 1, (at(550), Drs), (at(580), Drs), 30, 0, 0, 30),
            (1, 2, (at(1100), Drs), (at(1145), Drs), 45, 0, 0, 45),
        ]
    );
    let b = &r.boundaries[0];
    assert_eq!(
        (b.from.field, b.to.field, b.source),
        (
            "DRS job endDateTime",
            "DRS job creationDateTime",
            FigureSource::Drs
        )
    );
    assert_eq!(
        (b.from_wave_name.as_deref(), b.to_wave_name.as_deref()),
        (Some("database"), Some("app"))
    );
    // The gap ends where the next wave's recovery time starts.
    assert_eq!(r.waves[1].recovery.start.as_ref(), Some(&b.to));
    let json = serde_json::to_value(&r).unwrap();
    let b = &json["boundaries"][1];
    assert_eq!(
        (
            &b["fromWave"],
            &b["toWave"],
            &b["gapSeconds"],
            &b["pausedSeconds"],
            &b["actionSeconds"],
            &b["waitSeconds"]
        ),
        (
            &1.into(),
            &2.into(),
            &45.into(),
            &0.into(),
            &0.into(),
            &45.into()
        )
    );
    assert_eq!(
        (&b["from"]["source"], &b["source"]),
        (&"DRS".into(), &"DRS".into())
    );
    assert_eq!(b["fromWaveName"], "app");
    assert!(b.get("toWaveName").is_none());

    // A retried wave: only its last attempt's jobs launched what the next wave waited for (DRS
    // ended the first attempt's job late, at 1130); its own boundary still ends at its first
    // attempt's first job.
    let mut e = three_waves();
    let w = &mut e.waves[1];
    w.attempt = 2;
    w.jobs = vec![
        wave_job(2, 1, 577, Some(580), Some(1130)),
        wave_job(4, 2, 700, Some(702), Some(1100)),
    ];
    let r = Report::build(&e, &[]);
    assert_eq!(
        boundary_rows(&r),
        [
            (0, 1, (at(550), Drs), (at(580), Drs), 30, 0, 0, 30),
            (1, 2, (at(1100), Drs), (at(1145), Drs), 45, 0, 0, 45),
        ]
    );

    // DRS had not ended wave 1's job when the engine moved on (it saw every server LAUNCHED): the
    // last server's EC2 launch time (1090) stands in, not the poll that noticed (1110).
    let mut e = three_waves();
    e.waves[1].jobs[0].ended_time = None;
    let r = Report::build(&e, &[]);
    assert_eq!(
        boundary_rows(&r)[1],
        (
            1,
            2,
            (at(1090), TimeSource::Ec2),
            (at(1145), Drs),
            55,
            0,
            0,
            55
        )
    );
    assert_eq!(
        (r.boundaries[1].from.field, r.boundaries[1].source),
        ("EC2 launchTime", FigureSource::Drs)
    );
    // Nor when one job of the attempt ended and another did not: the one that ended (at 1000)
    // does not say when the last server launched.
    e.waves[1].jobs[0].ended_time = Some(at(1000));
    e.waves[1].jobs.push(wave_job(5, 1, 578, Some(581), None));
    assert_eq!(
        Report::build(&e, &[]).boundaries[1].from,
        TimePoint::new(at(1090), TimeSource::Ec2, "EC2 launchTime")
    );
    // Nor EC2's time: the engine's end of the wave.
    e.waves[1].server_statuses[0].launch_time = None;
    let r = Report::build(&e, &[]);
    assert_eq!(
        boundary_rows(&r)[1],
        (
            1,
            2,
            (at(1110), TimeSource::Engine),
            (at(1145), Drs),
            35,
            0,
            0,
            35
        )
    );
    assert_eq!(r.boundaries[1].source, FigureSource::Engine);
}

#[test]
fn a_pause_inside_a_boundary_is_counted_apart_from_the_engines_wait() {
    use TimeSource::Drs;
    // Wave 0's job ended at 550; the workflow paused before wave 1 at 560 (the plan's pause), an
    // operator resumed at 680, wave 1 was launched at 690 and its job created at 695.
    let two_waves = || {
        let mut e = execution(&[1, 1]);
        launched(&mut e, 0, 0, wave_job(1, 1, 3, Some(10), Some(550)), &[540]);
        e.waves[0].end_time = Some(at(560));
        launched(
            &mut e,
            1,
            690,
            wave_job(2, 1, 692, Some(695), Some(1200)),
            &[1190],
        );
        e.waves[1].end_time = Some(at(1210));
        e.header.status = ExecutionStatus::Completed;
        e
    };
    let mut planned = moved(
        event(560, 2, "pause", Actor::Workflow),
        ExecutionStatus::Polling,
        ExecutionStatus::Paused,
    );
    planned.decision = Some(Decision::PlannedPause);
    planned.paused_before_wave = Some(1);
    let resume = moved(
        event(680, 3, "resume", operator()),
        ExecutionStatus::Paused,
        ExecutionStatus::Polling,
    );
    let r = Report::build(&two_waves(), &[planned, resume.clone()]);
    assert_eq!(
        boundary_rows(&r),
        [(0, 1, (at(550), Drs), (at(695), Drs), 145, 120, 0, 25)]
    );

    // An operator's pause taken while wave 0 still launched (at 520): only its part after wave
    // 0's last launch (550..680) is in the boundary.
    let mut early = moved(
        event(520, 2, "pause", operator()),
        ExecutionStatus::Polling,
        ExecutionStatus::Paused,
    );
    early.decision = Some(Decision::OperatorPause);
    let r = Report::build(&two_waves(), &[early, resume]);
    assert_eq!(r.pauses[0].seconds, Some(160));
    assert_eq!(
        boundary_rows(&r),
        [(0, 1, (at(550), Drs), (at(695), Drs), 145, 130, 0, 15)]
    );
}

#[test]
fn an_action_inside_a_boundary_is_counted_apart_from_the_engines_wait() {
    use TimeSource::Drs;
    // Wave 0's job ended at 550, wave 1's was created at 700. Between them wave 0's dns-switch
    // (after complete, 560..620) and wave 1's warm-cache (before launch, 630..650) ran: 80 s.
    // pre-check (before wave 0) and smoke (after wave 1) are outside it.
    let e = with_actions();
    let r = Report::build(&e, &[]);
    assert_eq!(
        boundary_rows(&r),
        [(0, 1, (at(550), Drs), (at(700), Drs), 150, 0, 80, 70)]
    );

    // An operator paused at 600 and resumed at 640, while dns-switch ran and into warm-cache:
    // paused 40 s, in actions 80 s, and the time covered by either (560..650) counts once.
    let mut pause = moved(
        event(600, 2, "pause", operator()),
        ExecutionStatus::Polling,
        ExecutionStatus::Paused,
    );
    pause.decision = Some(Decision::OperatorPause);
    let resume = moved(
        event(640, 3, "resume", operator()),
        ExecutionStatus::Paused,
        ExecutionStatus::Polling,
    );
    let r = Report::build(&e, &[pause, resume]);
    assert_eq!(
        boundary_rows(&r),
        [(0, 1, (at(550), Drs), (at(700), Drs), 150, 40, 80, 150 - 90)]
    );
}

#[test]
fn a_wave_that_never_launched_has_no_boundary() {
    use TimeSource::{Drs, Engine};
    // Wave 2 not launched yet (the execution polls wave 1): only 0 → 1.
    let mut e = three_waves();
    let w = &mut e.waves[2];
    w.status = WaveStatus::Pending;
    w.attempt = 0;
    w.jobs.clear();
    w.launch_time = None;
    w.attempt_time = None;
    w.end_time = None;
    for s in &mut w.server_statuses {
        *s = ServerStatus::new(s.source_server_id.clone(), s.server_name.clone());
    }
    e.header.status = ExecutionStatus::Polling;
    e.header.end_time = None;
    let r = Report::build(&e, &[]);
    assert_eq!(
        boundary_rows(&r),
        [(0, 1, (at(550), Drs), (at(580), Drs), 30, 0, 0, 30)]
    );
    // Nor once the execution was cancelled before it.
    e.waves[2].status = WaveStatus::Cancelled;
    e.header.status = ExecutionStatus::Cancelled;
    assert_eq!(Report::build(&e, &[]).boundaries.len(), 1);

    // Asked of DRS (claimed at 1140) but no job created yet: its start is the engine's ask.
    e.waves[2].status = WaveStatus::Launching;
    e.waves[2].attempt = 1;
    e.waves[2].launch_time = Some(at(1140));
    e.waves[2].attempt_time = Some(at(1140));
    e.header.status = ExecutionStatus::Polling;
    let r = Report::build(&e, &[]);
    assert_eq!(
        boundary_rows(&r)[1],
        (1, 2, (at(1100), Drs), (at(1140), Engine), 40, 0, 0, 40)
    );
    assert_eq!(
        (r.boundaries[1].to.field, r.boundaries[1].source),
        ("engine: wave launchTime", FigureSource::Engine)
    );

    // A wave that failed and was skipped has no boundary to the next (its launch waited for a
    // person's decision); the boundary into it stands.
    let mut e = three_waves();
    e.waves[1].status = WaveStatus::Skipped;
    e.header.status = ExecutionStatus::CompletedWithErrors;
    let r = Report::build(&e, &[]);
    assert_eq!(
        boundary_rows(&r),
        [(0, 1, (at(550), Drs), (at(580), Drs), 30, 0, 0, 30)]
    );
}

#[test]
fn a_version_1_record_measures_its_boundaries_on_the_engines_clock() {
    use crate::fixtures::{EXECUTION_ID, PLAN_ID};
    // Version 1 kept one jobId per wave and no DRS times; EC2 did not describe the instances: the
    // engine's end of wave 0 (when its poll saw it complete) to its launch of wave 1.
    let wave = |n: usize, launch: i64, end: i64| {
        serde_json::json!({
            "waveNumber": n, "status": "COMPLETED", "timeoutSeconds": 3600, "version": 3,
            "jobId": job(n + 1).to_string(), "launchTime": at(launch), "endTime": at(end),
            "serverStatuses": [{"sourceServerId": server(n).to_string(), "launchStatus": "LAUNCHED"}]
        })
    };
    let e: Execution = serde_json::from_value(serde_json::json!({
        "executionId": EXECUTION_ID, "planId": PLAN_ID, "isDrill": true, "status": "COMPLETED",
        "createdTime": at(-10), "startTime": at(0), "endTime": at(1300), "version": 9,
        "waves": [wave(0, 0, 600), wave(1, 630, 1290)]
    }))
    .expect("a version-1 record");
    assert_eq!(
        (e.waves[0].jobs.len(), e.waves[0].jobs[0].ended_time),
        (1, None)
    );
    let r = Report::build(&e, &[]);
    assert_eq!(
        boundary_rows(&r),
        [(
            0,
            1,
            (at(600), TimeSource::Engine),
            (at(630), TimeSource::Engine),
            30,
            0,
            0,
            30
        )]
    );
    let b = &r.boundaries[0];
    assert_eq!(
        (b.from.field, b.to.field, b.source),
        (
            "engine: wave endTime",
            "engine: wave launchTime",
            FigureSource::Engine
        )
    );
    assert_eq!(serde_json::to_value(b).unwrap()["source"], "engine");

    // With the instance's EC2 launch time, that is when wave 0's last server launched.
    let mut e = e;
    e.waves[0].server_statuses[0].launch_time = Some(at(570));
    assert_eq!(
        boundary_rows(&Report::build(&e, &[])),
        [(
            0,
            1,
            (at(570), TimeSource::Ec2),
            (at(630), TimeSource::Engine),
            60,
            0,
            0,
            60
        )]
    );
}
