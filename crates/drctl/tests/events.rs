//! `drctl drill --events on`: DRS launch results start the next wave, and the drill shows it.

mod common;

use common::{drctl, example, Run};

/// `drctl drill examples/three-tier.json --speed 0 EXTRA...`.
fn drill(extra: &[&str]) -> Run {
    let plan = example("three-tier.json");
    let mut args = vec!["drill", plan.to_str().unwrap(), "--speed", "0"];
    args.extend_from_slice(extra);
    drctl(&args)
}

/// Wave 2 (web) follows wave 1 with no pause and no action between them: the event of wave 1's
/// last server launches it, seconds later, and the progress says so; wave 1 comes after the plan's
/// pause, which the workflow's poll takes.
#[test]
fn with_events_on_the_drill_shows_the_wave_an_event_launched() {
    let run = drill(&["--events", "on"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("wave 2 (web): launched on a DRS event, "))
        .unwrap_or_else(|| panic!("no event launch in:\n{}", run.stdout));
    let after = line
        .split(", ")
        .nth(1)
        .and_then(|rest| rest.strip_suffix(" after the last server of wave 1 (app)"))
        .unwrap_or_else(|| panic!("{line}"));
    let secs: u64 = after.strip_suffix('s').unwrap().parse().unwrap();
    assert!((1..=3).contains(&secs), "{line}");
    assert!(
        !run.stdout.contains("wave 1 (app): launched on a DRS event"),
        "the pause holds wave 1:\n{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("[advance by a DRS event] Execution: wave 2 (web) STARTED."),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("; DRS launch results: ")
            && run.stdout.contains(" lost, 1 launched a wave;"),
        "{}",
        run.stdout
    );

    let report = drill(&["--json", "--events", "on", "--event-delay", "2"]).json();
    let events = &report["simulation"]["launchResults"];
    assert_eq!(events["launchedWaves"], 1, "{events}");
    assert_eq!(
        (&events["delayMinSeconds"], &events["delayMaxSeconds"]),
        (&2.0.into(), &2.0.into())
    );
    assert_eq!(events["lost"], 0);
    assert!(report["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["operation"] == "advance" && e["actor"]["type"] == "event"));
}

/// Every event lost: the drill is the drill without events.
#[test]
fn with_every_event_lost_the_drill_is_the_drill_without_events() {
    let off = drill(&["--json", "--events", "off"]).json();
    let lost = drill(&["--json", "--event-loss", "1"]).json();
    assert_eq!(lost["waves"], off["waves"]);
    assert_eq!(lost["events"], off["events"]);
    assert_eq!(
        lost["simulation"]["simulatedSeconds"],
        off["simulation"]["simulatedSeconds"]
    );
    assert_eq!(lost["simulation"]["launchResults"]["delivered"], 0);
    assert_eq!(lost["simulation"]["launchResults"]["lost"], 7);
    assert!(
        off["simulation"]["launchResults"].is_null(),
        "no events with --events off"
    );
}

/// Bad event flags are refused before anything runs (exit 2), naming the flag.
#[test]
fn bad_event_flags_are_exit_2_and_change_nothing() {
    for (bad, says) in [
        (&["--events", "maybe"][..], "--events"),
        (
            &["--events", "on", "--event-delay", "3..1"][..],
            "the shortest delay comes first",
        ),
        (
            &["--events", "on", "--event-delay", "soon"][..],
            "is not a delay in seconds",
        ),
        (
            &["--events", "on", "--event-loss", "1.5"][..],
            "is not a chance of loss",
        ),
        (
            &["--events", "off", "--event-loss", "0.5"][..],
            "--event-loss needs DRS events",
        ),
        (
            &["--events", "off", "--event-delay", "2"][..],
            "--event-delay needs DRS events",
        ),
    ] {
        let run = drill(bad);
        assert_eq!(run.code, 2, "{bad:?}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{bad:?}: {}", run.stderr);
        assert!(
            run.stdout.is_empty(),
            "{bad:?}: nothing ran: {}",
            run.stdout
        );
    }
}
