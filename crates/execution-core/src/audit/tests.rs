use super::*;
use crate::fixtures;
use crate::ids::TaskToken;
use crate::model::HeldToken;
use crate::ports::{HeaderWrite, WaveWrite};

fn author(actor: Actor, operation: &str) -> Author {
    Author {
        actor,
        operation: operation.to_owned(),
        at_millis: 1_700_000_000_123,
    }
}

fn header(e: &Execution, edit: impl FnOnce(&mut ExecutionHeader)) -> Option<HeaderWrite> {
    let mut h = e.header.clone();
    edit(&mut h);
    h.version = e.header.version + 1;
    Some(HeaderWrite {
        expected_version: e.header.version,
        header: h,
    })
}

fn wave(e: &Execution, n: u32, edit: impl FnOnce(&mut Wave)) -> WaveWrite {
    let mut w = e.waves[n as usize].clone();
    edit(&mut w);
    w.version += 1;
    WaveWrite {
        expected_version: e.waves[n as usize].version,
        wave: w,
    }
}

fn commit(e: &Execution, h: Option<HeaderWrite>, waves: Vec<WaveWrite>) -> Commit {
    Commit::new(e.id(), h, waves)
}

fn paused_for(reason: PauseReason) -> impl FnOnce(&mut ExecutionHeader) {
    move |h| {
        h.status = ExecutionStatus::Paused;
        h.pause_reason = Some(reason);
        h.paused_before_wave = Some(1);
    }
}

#[test]
fn a_commit_that_changes_only_versions_records_nothing() {
    let e = fixtures::execution(&[2, 2]);
    let c = commit(&e, header(&e, |_| {}), vec![wave(&e, 0, |_| {})]);
    assert_eq!(change(&e, &c, &author(Actor::Workflow, "launch")), None);
}

#[test]
fn a_status_move_is_recorded_with_who_what_and_when() {
    let e = fixtures::execution(&[1]);
    let c = commit(
        &e,
        header(&e, |h| h.status = ExecutionStatus::Cancelling),
        vec![],
    );
    let by = author(
        Actor::Iam("arn:aws:iam::123456789012:user/ana".into()),
        "cancel",
    );
    let event = change(&e, &c, &by).expect("an event");
    assert_eq!(
        event.execution,
        Some(StatusChange {
            from: Some(ExecutionStatus::Pending),
            to: ExecutionStatus::Cancelling
        })
    );
    assert_eq!(event.actor, by.actor);
    assert_eq!(event.operation, "cancel");
    assert_eq!(event.time, Timestamp(1_700_000_000));
    assert_eq!(event.event_id, "000000000001-h1");
    assert_eq!(event.notice_kinds(), vec![NoticeKind::ExecutionStatus]);
    assert!(!event.pages(), "a cancel in progress pages no one");
}

#[test]
fn every_pause_waits_for_a_decision_and_says_how_to_give_it() {
    let e = fixtures::execution(&[1, 1]);
    for (reason, decision, verbs) in [
        (
            PauseReason::Planned,
            Decision::PlannedPause,
            &["resume", "cancel"][..],
        ),
        (
            PauseReason::Operator,
            Decision::OperatorPause,
            &["resume", "cancel"],
        ),
        (
            PauseReason::WaveFailed,
            Decision::WaveFailed,
            &["retry", "skip", "cancel"],
        ),
    ] {
        let c = commit(&e, header(&e, paused_for(reason)), vec![]);
        let event = change(&e, &c, &author(Actor::Workflow, "pause")).expect("an event");
        assert_eq!(event.decision, Some(decision));
        assert!(event.pages());
        assert_eq!(event.notice_kinds()[0], NoticeKind::NeedsDecision);
        let commands = event.commands();
        for verb in verbs {
            let cli = format!("drctl {verb} {} --plan {}", e.id(), e.header.plan_id);
            assert!(
                commands.iter().any(|c| c.starts_with(&cli)),
                "{reason:?}: {commands:?}"
            );
            let route = format!("POST /executions/{}/{verb}", e.id());
            assert!(
                commands.iter().any(|c| c.starts_with(&route)),
                "{commands:?}"
            );
        }
        assert!(event.message().contains(&event.summary()));
    }
}

#[test]
fn a_failed_wave_names_its_reason_and_the_wave_to_retry() {
    let mut e = fixtures::execution(&[1, 1]);
    e.header.status = ExecutionStatus::Polling;
    e.waves[0].status = WaveStatus::Started;
    let failed = wave(&e, 0, |w| {
        w.status = WaveStatus::Failed;
        w.failure_reason = Some(WaveFailure::ServersFailed);
        w.status_message = Some("1 critical server did not launch".into());
        w.server_statuses[0].launch_status = LaunchStatus::Failed;
    });
    let event = change(
        &e,
        &commit(&e, None, vec![failed]),
        &author(Actor::Workflow, "poll"),
    )
    .expect("an event");
    let w = &event.waves[0];
    assert_eq!(w.status.as_ref().map(|s| s.to), Some(WaveStatus::Failed));
    assert_eq!(w.failure_reason, Some(WaveFailure::ServersFailed));
    assert_eq!(w.servers.len(), 1);
    assert_eq!(w.servers[0].to, LaunchStatus::Failed);
    assert_eq!(w.servers[0].source_server_ids.len(), 1);
    assert_eq!(event.failed_wave, Some(0));
    assert!(event.pages(), "a failed wave pages");
    assert_eq!(event.notice_kinds(), vec![NoticeKind::WaveStatus]);
}

#[test]
fn jobs_and_launched_servers_are_progress() {
    let mut e = fixtures::execution(&[2]);
    e.header.status = ExecutionStatus::Polling;
    e.waves[0].status = WaveStatus::Started;
    let job = fixtures::job(7);
    let moved = wave(&e, 0, |w| {
        fixtures::give_job(w, job.clone(), Timestamp(10));
        w.server_statuses[0].launch_status = LaunchStatus::Launched;
    });
    let event = change(
        &e,
        &commit(&e, None, vec![moved]),
        &author(Actor::Find, "poll"),
    )
    .expect("an event");
    assert_eq!(event.waves[0].job_ids, vec![job]);
    assert_eq!(event.notice_kinds(), vec![NoticeKind::Progress]);
    assert!(
        event.summary().ends_with(&format!(
            "wave 0: 1 server PENDING → LAUNCHED, job {} recorded.",
            fixtures::job(7)
        )),
        "{}",
        event.summary()
    );
    assert!(event.commands().is_empty());
    assert!(!event.pages());
}

#[test]
fn a_held_token_is_noted_and_never_recorded() {
    let mut e = fixtures::execution(&[1, 1]);
    e.header.status = ExecutionStatus::Paused;
    e.header.pause_reason = Some(PauseReason::Planned);
    e.header.paused_before_wave = Some(1);
    let token = "AQCEAAAAKgAAAAMAAAAAAAAAAbGN4x-secret-token";
    let c = commit(
        &e,
        header(&e, |h| {
            h.task_token = Some(HeldToken {
                token: TaskToken::parse(token).unwrap(),
                release_pending: false,
            })
        }),
        vec![],
    );
    let event = change(&e, &c, &author(Actor::Workflow, "pause")).expect("an event");
    assert!(event.notes.iter().any(|n| n.contains("task token is held")));
    assert_eq!(event.decision, None, "the pause was already announced");
    let text = serde_json::to_string(&event).unwrap()
        + &serde_json::to_string(
            &event
                .notices()
                .iter()
                .map(|n| &n.detail)
                .collect::<Vec<_>>(),
        )
        .unwrap();
    assert!(!text.contains(token));
}

#[test]
fn find_giving_up_needs_an_operator() {
    let mut e = fixtures::execution(&[1]);
    e.header.status = ExecutionStatus::Polling;
    let c = commit(
        &e,
        header(&e, |h| {
            h.status_message = Some(crate::ops::heal::operator_needed_message("FAILED"))
        }),
        vec![],
    );
    let event = change(&e, &c, &author(Actor::Find, "find")).expect("an event");
    assert_eq!(event.decision, Some(Decision::NotHealed));
    assert!(event.commands().iter().any(|c| c.contains("drctl restart")));
    assert!(event.pages());
}

#[test]
fn the_creation_starts_the_trail() {
    let e = fixtures::execution(&[2, 3]);
    let event = created(
        &e,
        &author(Actor::Cli("arn:aws:sts::1:assumed-role/x".into()), "start"),
    );
    assert_eq!(
        event.execution,
        Some(StatusChange {
            from: None,
            to: ExecutionStatus::Pending
        })
    );
    assert_eq!(event.notes, vec!["drill of 2 waves, 5 servers".to_owned()]);
    assert!(check_trail(&e, &[event]).is_empty());
}

#[test]
fn notices_are_small_and_carry_a_stable_id() {
    let mut e = fixtures::execution(&[200]);
    e.header.status = ExecutionStatus::Polling;
    e.waves[0].status = WaveStatus::Started;
    let moved = wave(&e, 0, |w| {
        w.status = WaveStatus::Completed;
        for s in &mut w.server_statuses {
            s.launch_status = LaunchStatus::Launched;
        }
    });
    let event = change(
        &e,
        &commit(&e, None, vec![moved]),
        &author(Actor::Workflow, "poll"),
    )
    .expect("an event");
    let notices = event.notices();
    assert_eq!(notices.len(), 1);
    let detail = &notices[0].detail;
    assert_eq!(detail["waves"][0]["serversNowIn"]["LAUNCHED"], 200);
    assert_eq!(event.waves[0].servers.len(), 1, "one move, 200 ids");
    assert_eq!(event.waves[0].servers[0].source_server_ids.len(), 200);
    assert!(detail["waves"][0].get("servers").is_none());
    assert_eq!(
        detail["notificationId"],
        format!("{}/{}/waves", e.id(), event.event_id)
    );
    assert_eq!(notices, event.notices(), "the same event, the same notices");
}

#[test]
fn a_trail_must_chain_to_the_record() {
    let mut e = fixtures::execution(&[1]);
    let by = author(Actor::Workflow, "launch");
    let start = created(&e, &by);
    let c = commit(
        &e,
        header(&e, |h| h.status = ExecutionStatus::Polling),
        vec![wave(&e, 0, |w| w.status = WaveStatus::Launching)],
    );
    let mut moved = change(
        &e,
        &c,
        &Author {
            at_millis: by.at_millis + 1,
            ..by.clone()
        },
    )
    .expect("an event");
    assert_eq!(check_trail(&e, std::slice::from_ref(&start)), vec![]);
    // The record did not move: the trail says it did.
    assert_eq!(
        check_trail(&e, &[start.clone(), moved.clone()]),
        vec![
            TrailProblem::ExecutionEnds {
                trail: ExecutionStatus::Polling,
                record: ExecutionStatus::Pending
            },
            TrailProblem::WaveEnds {
                wave: 0,
                trail: WaveStatus::Launching,
                record: WaveStatus::Pending
            }
        ]
    );
    e.header.status = ExecutionStatus::Polling;
    e.waves[0].status = WaveStatus::Launching;
    assert_eq!(check_trail(&e, &[start.clone(), moved.clone()]), vec![]);
    assert!(matches!(
        check_trail(&e, &[moved.clone(), start.clone()])[..],
        [TrailProblem::OutOfOrder { .. }, ..]
    ));
    moved.plan_id = PlanId::parse("00000000-0000-4000-8000-000000000009").unwrap();
    assert!(matches!(
        check_trail(&e, &[start, moved])[..],
        [TrailProblem::Foreign { .. }, ..]
    ));
}

/// A subject SNS accepts: fewer than 100 characters, printable ASCII (so no line break and no
/// control character), beginning with the source.
fn assert_valid_subject(subject: &str) {
    assert!(
        subject.len() <= MAX_SUBJECT_CHARS,
        "{} chars: {subject}",
        subject.len()
    );
    assert!(
        subject.chars().all(|c| (' '..='~').contains(&c)),
        "not printable ASCII: {subject:?}"
    );
    assert!(subject.starts_with("drs-waves: Execution "), "{subject}");
}

#[test]
fn a_page_is_a_short_ascii_subject_and_the_whole_message() {
    let mut e = fixtures::execution(&[1, 1]);
    e.waves[1].wave_name =
        Some("répertoire «app»\ttier, with a name long enough to be clipped".into());
    let event = change(
        &e,
        &commit(&e, header(&e, paused_for(PauseReason::Planned)), vec![]),
        &author(Actor::Workflow, "poll"),
    )
    .expect("an event");
    let page = event.page();
    assert_eq!(page.message, event.message());
    assert!(
        page.message.contains("\n\ndrctl resume ") && page.message.contains(r#"{"planId":"#),
        "the message keeps its lines and its JSON bodies as they are: {}",
        page.message
    );
    assert_valid_subject(&page.subject);
    let id = e.id().to_string();
    assert!(
        page.subject.starts_with(&format!(
            "drs-waves: Execution {id} is paused before wave 1"
        )),
        "{}",
        page.subject
    );
    assert!(page.subject.ends_with("..."), "clipped: {}", page.subject);

    // Short enough: as it is, no mark.
    let mut short = event.clone();
    short.decision = None;
    short.execution = None;
    short.notes = vec!["x".into()];
    assert_eq!(
        short.page().subject,
        format!("drs-waves: Execution {id}: x.")
    );
}

#[test]
fn a_subject_keeps_to_printable_ascii_whatever_the_summary_holds() {
    for text in [
        "plain",
        "wave 1 (caf\u{e9}) FAILED (line one\nline two\r\n\u{7}bell)",
        "\u{1F4A5}\u{1F4A5}\u{1F4A5}",
        &"x".repeat(500),
        &"\u{e9}".repeat(500),
        "clipped\u{2026}",
    ] {
        let s = subject(text);
        assert!(s.len() <= MAX_SUBJECT_CHARS, "{s}");
        assert!(s.chars().all(|c| (' '..='~').contains(&c)), "{s:?}");
        assert!(s.starts_with("drs-waves: "), "{s}");
    }
    assert_eq!(subject("caf\u{e9}\nbar\u{2026}"), "drs-waves: caf? bar...");
    let long = subject(&"x".repeat(500));
    assert_eq!(long.len(), MAX_SUBJECT_CHARS);
    assert!(long.ends_with("xxx..."));
}

#[test]
fn a_fallback_notice_is_small_and_says_where_to_read_the_event() {
    let id = fixtures::EXECUTION_ID;
    let why = format!("it does not decode: {}", "unknown variant ".repeat(100));
    let notice = fallback_notice(id, "000000000012-h4", &why);
    assert_eq!(notice.kind, NoticeKind::Progress);
    assert_eq!(notice.kind.detail_type(), "Execution Progress");
    let d = notice.detail.as_object().unwrap();
    let mut keys: Vec<&str> = d.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["eventId", "executionId", "notificationId", "summary"]
    );
    assert_eq!(
        d["notificationId"],
        format!("{id}/000000000012-h4/unreadable")
    );
    assert_eq!(d["executionId"], id);
    assert_eq!(d["eventId"], "000000000012-h4");
    let summary = d["summary"].as_str().unwrap();
    assert!(
        summary.contains("cannot read")
            && summary.contains("it does not decode")
            && summary.contains(&format!("drctl events {id} --plan")),
        "{summary}"
    );
    assert!(
        notice.detail.to_string().len() < 1024,
        "small: {}",
        notice.detail
    );
}
