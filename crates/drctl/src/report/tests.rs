use std::path::Path;

use execution_core::actions::{
    ActionKind, ActionOnFailure, ActionRun, ActionStatus, ActionWhen, WaveAction,
};
use execution_core::audit::{Actor, AuditEvent, Decision, StatusChange};
use execution_core::fixtures::{execution, execution_id, instance, job, plan_id};
use execution_core::model::{Execution, Timestamp, WaveJob};
use execution_core::report::Report;
use execution_core::status::{ExecutionStatus, LaunchStatus, WaveStatus};

use super::markdown::md;
use super::*;

const HOSTILE_PLAN: &str = "<script>alert('plan')</script> & co";
const HOSTILE_SERVER: &str = "\"><img src=x onerror=alert(1)>|*db*";
const HOSTILE_WAVE: &str = "db\u{1b}[31m\nWave 7: </text><script>x</script>";

/// Two waves: wave 0 launched (one server with a hostile name), wave 1 failed (one server
/// launched, one FAILED with DRS's reason); a planned pause between them, resumed by an operator.
fn drill() -> (Execution, Vec<AuditEvent>) {
    let mut e = execution(&[2, 2]);
    e.header.plan_name = Some(HOSTILE_PLAN.into());
    e.header.status = ExecutionStatus::Failed;
    e.header.start_time = Some(Timestamp(1000));
    e.header.end_time = Some(Timestamp(2500));
    e.header.target_rto_seconds = Some(1800);
    for (n, w) in e.waves.iter_mut().enumerate() {
        let start = 1000 + 1000 * n as i64;
        w.attempt = 1;
        w.launch_time = Some(Timestamp(start));
        w.attempt_time = Some(Timestamp(start));
        w.end_time = Some(Timestamp(start + 480));
        w.jobs.push(WaveJob {
            job_id: job(n + 1),
            attempt: 1,
            part: 0,
            recorded_time: Timestamp(start + 1),
            created_time: Some(Timestamp(start + 5)),
            ended_time: Some(Timestamp(start + 470)),
        });
        for (i, s) in w.server_statuses.iter_mut().enumerate() {
            s.job_id = Some(job(n + 1));
            s.launch_status = LaunchStatus::Launched;
            s.launch_time = Some(Timestamp(start + 400 + 10 * i as i64));
            s.instance_id = Some(instance(10 * n + i + 1));
            s.recovery_instance_id = Some(instance(100 + 10 * n + i));
            s.private_ip = Some(format!("10.0.{n}.{i}"));
        }
    }
    e.waves[0].status = WaveStatus::Completed;
    e.waves[0].wave_name = Some(HOSTILE_WAVE.into());
    e.waves[0].target_rto_seconds = Some(600);
    e.waves[0].server_statuses[1].server_name = Some(HOSTILE_SERVER.into());
    e.waves[1].status = WaveStatus::Failed;
    e.waves[1].failure_reason = Some(execution_core::model::WaveFailure::ServersFailed);
    e.waves[1].status_message = Some("1 of 2 servers did not launch".into());
    let failed = &mut e.waves[1].server_statuses[1];
    failed.launch_status = LaunchStatus::Failed;
    failed.launch_time = None;
    failed.instance_id = None;
    failed.recovery_instance_id = None;
    failed.drs_reason = Some("Conversion <failed> & | stopped".into());

    let event = |secs: i64, n: u32, op: &str, actor: Actor| AuditEvent {
        event_id: format!("{n:012}-h{n}"),
        execution_id: execution_id(),
        plan_id: plan_id(),
        time: Timestamp(secs),
        actor,
        operation: op.to_owned(),
        execution: None,
        decision: None,
        paused_before_wave: None,
        failed_wave: None,
        waves: vec![],
        reason: None,
        notes: vec![],
    };
    let mut pause = event(1500, 4, "pause", Actor::Workflow);
    pause.execution = Some(StatusChange {
        from: Some(ExecutionStatus::Polling),
        to: ExecutionStatus::Paused,
    });
    pause.decision = Some(Decision::PlannedPause);
    pause.paused_before_wave = Some(1);
    let mut resume = event(
        1620,
        5,
        "resume",
        Actor::Iam("arn:aws:iam::1:user/<b>eve</b>".into()),
    );
    resume.execution = Some(StatusChange {
        from: Some(ExecutionStatus::Paused),
        to: ExecutionStatus::Polling,
    });
    (e, vec![pause, resume])
}

fn document() -> Document {
    let (e, trail) = drill();
    Document::of(Report::build(&e, &trail))
}

#[test]
fn markdown_escapes_what_markdown_would_read_as_markup() {
    assert_eq!(md("db-primary 01"), "db-primary 01");
    assert_eq!(md("a|b"), "a\\|b");
    assert_eq!(
        md("*x* _y_ `z` [l](u) <b> &amp; #h !i ~s"),
        "\\*x\\* \\_y\\_ \\`z\\` \\[l\\]\\(u\\) \\<b\\> \\&amp; \\#h \\!i \\~s"
    );
    assert_eq!(md("see www.evil.test"), "see www\\.evil.test");
    assert_eq!(md("https://x.test"), "https\\://x.test");
    assert_eq!(md("a@b.test"), "a\\@b.test");
    assert_eq!(md("back\\slash"), "back\\\\slash");
    // Control characters are shown escaped, and the backslash of the escape is itself escaped:
    // a cell stays on its row.
    assert_eq!(md("a\nb"), "a\\\\nb");
    assert!(!md("x\u{1b}[31m\u{202e}").contains(['\u{1b}', '\u{202e}']));
    assert_eq!(md("名前|データ"), "名前\\|データ");
}

#[test]
fn the_markdown_report_keeps_hostile_names_inside_their_cells() {
    let out = document().render(Format::Markdown);
    assert!(
        out.starts_with("# Drill report: \\<script\\>alert"),
        "{out}"
    );
    // Every `<` and `>` is escaped: no HTML gets through to a Markdown renderer.
    let bytes = out.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if matches!(b, b'<' | b'>') {
            assert!(i > 0 && bytes[i - 1] == b'\\', "unescaped at {i}: {out}");
        }
    }
    assert!(out.contains("\"\\>\\<img src=x onerror=alert\\(1\\)\\>\\|\\*db\\*"));
    assert!(!out.contains('\u{1b}'));
    assert_tables_keep_their_columns(&out);
    for expected in [
        "## Recovery time against the objective",
        "| **Execution** | 30m 00s | – | ❌ **MISSED** |",
        "## Wave boundaries",
        "| 10m 00s | 6m 45s | ✅ **MET** |",
        "## Timeline",
        "## Time paused",
        "| 2m 00s | the plan's pause before wave 1 |",
        "## Decisions",
        "## Failures",
        "Conversion \\<failed\\> \\& \\| stopped",
        "## Instances",
        "## Cleanup",
        "## Audit trail",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
}

#[test]
fn the_html_report_is_one_page_whose_outside_text_stays_text() {
    let out = document().render(Format::Html);
    assert!(out.starts_with("<!DOCTYPE html>"));
    // Self-contained: no script, no external stylesheet, image or link.
    for banned in [
        "<script", "<link", "<img", " src=\"", " href=\"", "@import", "url(",
    ] {
        assert!(!out.contains(banned), "{banned} in the page");
    }
    assert!(out.contains("&lt;script&gt;alert('plan')&lt;/script&gt; &amp; co"));
    assert!(out.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;|*db*"));
    assert!(!out.contains("<img"));
    assert!(out.contains("&lt;/text&gt;&lt;script&gt;x&lt;/script&gt;"));
    assert!(out.contains("arn:aws:iam::1:user/&lt;b&gt;eve&lt;/b&gt;"));
    assert!(out.contains("Conversion &lt;failed&gt; &amp; | stopped"));
    // The timeline: a bar per server that started, the failure in its own class, the pause, the
    // decisions, an axis in minutes.
    assert_eq!(out.matches("class=\"bar server ").count(), 4);
    assert_eq!(out.matches("class=\"bar server failed\"").count(), 1);
    assert_eq!(out.matches("class=\"bar wave ").count(), 2);
    assert_eq!(out.matches("<rect class=\"pause\"").count(), 1);
    assert!(out.contains("class=\"decision person\" data-operation=\"resume\""));
    assert!(out.contains("class=\"decision engine\" data-operation=\"pause\""));
    assert!(out.contains(" min</text>"));
    assert!(out.contains("data-verdict=\"MISSED\""));
    assert!(out.contains("<section id=\"boundaries\">"));
    assert!(out.contains("@media print"));
}

#[test]
fn the_text_report_escapes_names_and_ends_with_the_trail() {
    let out = document().render(Format::Text);
    assert!(!out.contains('\u{1b}'), "{out}");
    assert!(
        !out.lines().any(|l| l.starts_with("Wave 7")),
        "a name forged a line:\n{out}"
    );
    for expected in [
        "Recovery time objective 30m 00s: MISSED (the execution ended FAILED: not recovered)",
        "Wave 0 (db\\u{1b}[31m\\nWave 7: </text><script>x</script>): COMPLETED  recovery time 6m 45s",
        "  Recovery time objective 10m 00s: MET",
        "Pauses:\n  1970-01-01T00:25:00Z to 1970-01-01T00:27:00Z (2m 00s): the plan's pause before wave 1, paused by the workflow; resume by arn:aws:iam::1:user/<b>eve</b>",
        "Timeline (T+0 = 1970-01-01T00:16:45Z):",
        "FAILED: Conversion <failed> & | stopped",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
    let last = out.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("  1970-01-01T00:27:00Z [resume by "),
        "{last}"
    );
}

#[test]
fn json_is_the_model_and_a_stopped_drill_is_marked_partial_everywhere() {
    let mut doc = document();
    let json: serde_json::Value =
        serde_json::from_str(&doc.render(Format::Json)).unwrap_or_default();
    assert_eq!(json["recovery"]["verdict"], "MISSED");
    assert_eq!(json["waves"][0]["recovery"]["source"], "DRS");
    assert_eq!(json["planName"], HOSTILE_PLAN);
    assert!(json.get("partial").is_none());

    doc.report.finished = false;
    for format in [Format::Text, Format::Markdown, Format::Html] {
        assert!(
            says(
                &doc,
                format,
                "PARTIAL REPORT: the execution has not finished (FAILED)"
            ),
            "{format:?}"
        );
    }
    doc.stopped = Some(Stopped {
        partial: true,
        error: "INTERRUPTED",
        exit_code: 130,
        message: "interrupted by Ctrl-C".into(),
    });
    for format in [Format::Text, Format::Markdown, Format::Html] {
        assert!(
            says(
                &doc,
                format,
                "PARTIAL REPORT (interrupted by Ctrl-C): the execution as it stood"
            ),
            "{format:?}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&doc.render(Format::Json)).unwrap_or_default();
    assert_eq!(
        (&json["partial"], &json["error"], &json["exitCode"]),
        (&true.into(), &"INTERRUPTED".into(), &130.into())
    );
}

#[test]
fn the_format_follows_the_file_extension() {
    let of = |p: &str| Format::of_path(Path::new(p)).ok();
    assert_eq!(of("r.html"), Some(Format::Html));
    assert_eq!(of("R.HTM"), Some(Format::Html));
    assert_eq!(of("r.md"), Some(Format::Markdown));
    assert_eq!(of("dir.x/r.json"), Some(Format::Json));
    assert_eq!(of("r.txt"), Some(Format::Text));
    assert_eq!(of("r.pdf"), None);
    assert_eq!(of("report"), None);
    assert_eq!(
        chosen_format(None, false, Some(Path::new("r.md"))).ok(),
        Some(Format::Markdown)
    );
    assert_eq!(
        chosen_format(Some(Format::Html), true, Some(Path::new("r.md"))).ok(),
        Some(Format::Html)
    );
    assert_eq!(chosen_format(None, true, None).ok(), Some(Format::Json));
    assert_eq!(chosen_format(None, false, None).ok(), Some(Format::Text));
    assert!(chosen_format(None, false, Some(Path::new("r.pdf"))).is_err());
}

/// Whether `doc` rendered as `format` shows `text` (escaped as Markdown escapes it).
fn says(doc: &Document, format: Format, text: &str) -> bool {
    let shown = if format == Format::Markdown {
        md(text)
    } else {
        text.to_owned()
    };
    doc.render(format).contains(&shown)
}

// ---------------------------------------------------------------------------------------------
// Wave actions
// ---------------------------------------------------------------------------------------------

const HOSTILE_ACTION: &str = "<script>alert('act')</script>|*x*";
const HOSTILE_ERROR: &str =
    "\u{1b}[31m</text><img src=x onerror=alert(2)>\nWave 9: FORGED | `rm` & www.evil.test";
const HOSTILE_TARGET: &str = "arn:aws:lambda:us-east-1:1:function:f\"><svg onload=alert(3)>";
const HOSTILE_SUMMARY: &str = "{\"ok\":true,\"html\":\"<b>hi</b>\"}";

fn wave_action(
    name: &str,
    when: ActionWhen,
    kind: ActionKind,
    target: &str,
    on_failure: ActionOnFailure,
) -> WaveAction {
    // Through the record's JSON, as a stored wave holds it.
    serde_json::from_value(serde_json::json!({
        "name": name, "when": when, "type": kind, "target": target, "timeoutSeconds": 300,
        "onFailure": on_failure,
    }))
    .expect("an action")
}

fn action_run(
    name: &str,
    when: ActionWhen,
    status: ActionStatus,
    start: i64,
    end: Option<i64>,
) -> ActionRun {
    let mut run: ActionRun = serde_json::from_value(serde_json::json!({
        "name": name, "when": when, "attempt": 1, "status": status,
        "startTime": start, "claimedTime": start,
    }))
    .expect("a run");
    run.end_time = end.map(Timestamp);
    run
}

/// [`drill`] with wave actions: wave 0's `pre-check` (a Lambda with a hostile target, before
/// launch, 940..990, answered with hostile JSON) and `dns-switch` (a runbook, after complete,
/// 1485..1495); wave 1's hostile-named action (before launch, CONTINUE) timed out 1630..1930 with
/// a hostile error.
/// `w` as a wave that never launched, left `status`: no job, no attempt, its servers as the plan
/// gave them.
fn never_launched(w: &mut execution_core::model::Wave, status: WaveStatus) {
    w.status = status;
    w.failure_reason = None;
    w.status_message = None;
    w.jobs.clear();
    w.attempt = 0;
    w.launch_time = None;
    w.attempt_time = None;
    w.end_time = None;
    for s in &mut w.server_statuses {
        *s = execution_core::model::ServerStatus::new(
            s.source_server_id.clone(),
            s.server_name.clone(),
        );
    }
}

fn drill_with_actions() -> (Execution, Vec<AuditEvent>) {
    use ActionWhen::{AfterComplete, BeforeLaunch};
    let (mut e, trail) = drill();
    e.waves[0].actions = vec![
        wave_action(
            "pre-check",
            BeforeLaunch,
            ActionKind::Lambda,
            HOSTILE_TARGET,
            ActionOnFailure::Fail,
        ),
        wave_action(
            "dns-switch",
            AfterComplete,
            ActionKind::SsmAutomation,
            "Drs-DnsSwitch",
            ActionOnFailure::Fail,
        ),
    ];
    let mut pre = action_run(
        "pre-check",
        BeforeLaunch,
        ActionStatus::Succeeded,
        940,
        Some(990),
    );
    pre.summary = Some(HOSTILE_SUMMARY.into());
    let mut dns = action_run(
        "dns-switch",
        AfterComplete,
        ActionStatus::Succeeded,
        1485,
        Some(1495),
    );
    dns.automation_execution_id = Some("<i>auto-1</i>".into());
    dns.summary = Some("Success".into());
    e.waves[0].action_runs = vec![pre, dns];
    e.waves[1].actions = vec![wave_action(
        HOSTILE_ACTION,
        BeforeLaunch,
        ActionKind::SsmAutomation,
        "Drs-Warm",
        ActionOnFailure::Continue,
    )];
    let mut warm = action_run(
        HOSTILE_ACTION,
        BeforeLaunch,
        ActionStatus::TimedOut,
        1630,
        Some(1930),
    );
    warm.error = Some(HOSTILE_ERROR.into());
    e.waves[1].action_runs = vec![warm];
    (e, trail)
}

fn document_with_actions() -> Document {
    let (e, trail) = drill_with_actions();
    Document::of(Report::build(&e, &trail))
}

#[test]
fn the_text_report_lists_every_action_run_and_its_time() {
    let out = document_with_actions().render(Format::Text);
    assert!(!out.contains('\u{1b}'), "{out}");
    assert!(
        !out.lines().any(|l| l.starts_with("Wave 9")),
        "an error forged a line:\n{out}"
    );
    for expected in [
        // The header: time in actions, and how much of it the recovery time holds.
        "Wave actions: 3 runs, 6m 00s (before launch 5m 50s, after complete 10s), 1 failed; 5m 10s of it since the first launch",
        // Per wave.
        "  Wave actions: 2 runs, 1m 00s (before launch 50s, after complete 10s), outside the wave's recovery time",
        // The table, in the order they ran, and under each row what it ran and what came of it.
        "Wave actions (in the order they ran):\n  WAVE  ACTION",
        "  0     pre-check                          BEFORE_LAUNCH   LAMBDA          1        SUCCEEDED  1970-01-01T00:15:40Z  50s     FAIL\n",
        "      target arn:aws:lambda:us-east-1:1:function:f\"><svg onload=alert(3)>; ended 1970-01-01T00:16:30Z; answer: {\"ok\":true,\"html\":\"<b>hi</b>\"}",
        "      target Drs-DnsSwitch; automation <i>auto-1</i>; ended 1970-01-01T00:24:55Z; answer: Success",
        "; error: \\u{1b}[31m</text><img src=x onerror=alert(2)>\\nWave 9: FORGED | `rm` & www.evil.test (onFailure CONTINUE: the execution went on)",
        ACTIONS_DEFINITION,
        // The timeline: each run under its wave, from its start mark to its end mark.
        "    T+00:00:00 → T+00:00:50 (50s)  action pre-check (before launch, attempt 1) SUCCEEDED\n",
        "    T+00:09:05 → T+00:09:15 (10s)  action dns-switch (after complete, attempt 1) SUCCEEDED\n",
        "  T+00:26:00 ended FAILED",
        // The failure, with its error.
        "  action <script>alert('act')</script>|*x* of wave 1 (BEFORE_LAUNCH, attempt 1) TIMED_OUT: \\u{1b}[31m</text>",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
    // Wave 0's runs: before launch above its servers, after complete below them.
    let pre = out.find("action pre-check (before").unwrap_or_default();
    let server = out
        .find("  s-00000000000000000 (host-0) launched")
        .unwrap_or_default();
    let dns = out.find("action dns-switch (after").unwrap_or_default();
    assert!(pre < server && server < dns, "{out}");
    // No action mark is printed twice: the run's line is its marks.
    assert!(!out.contains("ACTION_STARTED") && !out.contains("action pre-check started"));
}

#[test]
fn the_markdown_report_has_a_table_of_action_runs_whose_text_stays_in_its_cells() {
    let out = document_with_actions().render(Format::Markdown);
    let bytes = out.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if matches!(b, b'<' | b'>') {
            assert!(i > 0 && bytes[i - 1] == b'\\', "unescaped at {i}: {out}");
        }
    }
    assert!(!out.contains('\u{1b}'));
    assert_tables_keep_their_columns(&out);
    for expected in [
        "## Wave actions\n\nEvery run, in the order they ran.",
        "| Wave | Action | When | Type | Target | Attempt | Status | Started | Ended | Took | On failure | Automation execution | Answer or error |",
        "| 0 | pre-check | BEFORE_LAUNCH | LAMBDA | arn\\:aws\\:lambda\\:us-east-1\\:1\\:function\\:f\"\\>\\<svg onload=alert\\(3\\)\\> | 1 | SUCCEEDED |",
        "| 0 | dns-switch | AFTER_COMPLETE | SSM_AUTOMATION | Drs-DnsSwitch | 1 | SUCCEEDED | 1970-01-01T00:24:45Z | 1970-01-01T00:24:55Z | 10s | FAIL | \\<i\\>auto-1\\</i\\> | Success |",
        "| 1 | \\<script\\>alert'act'\\</script\\>",
        "| **TIMED_OUT** |",
        "(**onFailure CONTINUE\\: the execution went on**)",
        "| ↳ action pre-check (before launch, attempt 1) | T+00:00:00 | T+00:00:50 | 50s | SUCCEEDED |",
        "Wave actions: 2 runs, 1m 00s (before launch 50s, after complete 10s), outside the wave's recovery time.",
        "\n| Wave | Action | When | Attempt | Status | Failed at | Error | What it did |",
    ] {
        let expected = expected.replace("alert'act'", "alert\\('act'\\)");
        assert!(out.contains(&expected), "missing {expected:?} in\n{out}");
    }
    assert!(says(
        &document_with_actions(),
        Format::Markdown,
        ACTIONS_DEFINITION
    ));
}

#[test]
fn the_html_report_has_an_action_table_and_marks_whose_text_stays_text() {
    let out = document_with_actions().render(Format::Html);
    for banned in [
        "<script",
        "<link",
        "<img",
        "<svg onload",
        "<i>",
        "<b>hi",
        " src=\"",
        " href=\"",
        "url(",
    ] {
        assert!(!out.contains(banned), "{banned} in the page");
    }
    // The table: a row per run, in the order they ran.
    assert!(out.contains("<section id=\"actions\"><h2>Wave actions</h2>"));
    let table = &out[out.find("<table class=\"actions\">").unwrap_or_default()..];
    let table = &table[..table.find("</table>").unwrap_or_default()];
    let rows: Vec<usize> = ["pre-check", "dns-switch", "&lt;script&gt;alert('act')"]
        .iter()
        .map(|name| {
            table
                .find(&format!("data-action=\"{name}"))
                .unwrap_or_else(|| panic!("no row of {name}: {table}"))
        })
        .collect();
    assert!(rows.windows(2).all(|w| w[0] < w[1]), "{table}");
    assert_eq!(table.matches("<tr class=\"action ").count(), 3);
    assert!(table.contains("<span class=\"continued\">CONTINUE: went on</span>"));
    assert!(table
        .contains("arn:aws:lambda:us-east-1:1:function:f&quot;&gt;&lt;svg onload=alert(3)&gt;"));
    assert!(
        table.contains("{&quot;ok&quot;:true,&quot;html&quot;:&quot;&lt;b&gt;hi&lt;/b&gt;&quot;}")
    );
    assert!(table.contains("&lt;i&gt;auto-1&lt;/i&gt;"));
    assert!(table.contains("&lt;/text&gt;&lt;img src=x onerror=alert(2)&gt;"));
    // The timeline: a row and a segment per run, a mark at each start and end, by kind.
    let svg = &out[out.find("<svg").unwrap_or_default()..out.find("</svg>").unwrap_or_default()];
    assert_eq!(svg.matches("<rect class=\"action-run ").count(), 3);
    assert!(svg.contains("<rect class=\"action-run before-launch succeeded\" data-wave=\"0\" data-action=\"pre-check\""));
    assert!(svg.contains("<rect class=\"action-run after-complete succeeded\""));
    assert!(svg.contains("<rect class=\"action-run before-launch timed-out continued\""));
    for (kind, n) in [
        ("BEFORE_LAUNCH_ACTION_STARTED", 2),
        ("BEFORE_LAUNCH_ACTION_SUCCEEDED", 1),
        ("BEFORE_LAUNCH_ACTION_TIMED_OUT", 1),
        ("AFTER_COMPLETE_ACTION_STARTED", 1),
        ("AFTER_COMPLETE_ACTION_SUCCEEDED", 1),
    ] {
        assert_eq!(
            svg.matches(&format!("data-kind=\"{kind}\"")).count(),
            n,
            "{kind}"
        );
    }
    assert_eq!(svg.matches("<text class=\"label action\"").count(), 3);
    assert!(svg.contains("before: &lt;script&gt;alert("));
    // The execution's end is still its own mark.
    assert_eq!(svg.matches("<g class=\"mark\">").count(), 1);
    // The legend says what the action marks are; the summary, the wave and the hint the time.
    assert_eq!(out.matches("<li class=\"action-legend\">").count(), 3);
    assert!(out.contains("<dd id=\"action-time\">3 runs, 6m 00s (before launch 5m 50s, after complete 10s), 1 failed; 5m 10s of it since the first launch</dd>"));
    assert!(out.contains("Wave actions: 2 runs, 1m 00s (before launch 50s, after complete 10s), outside the wave's recovery time."));
    assert!(out.contains(&maud::html! { (ACTIONS_DEFINITION) }.into_string()));
    // The failure, with its error.
    let failures = &out[out.find("<section id=\"failures\">").unwrap_or_default()..];
    assert!(failures.contains("<table class=\"failed-actions\">"));
    assert!(failures.contains("onFailure CONTINUE: the execution went on"));

    // Without actions, none of it.
    let plain = document().render(Format::Html);
    for absent in [
        "id=\"actions\"",
        "class=\"action-legend\"",
        "class=\"action-run",
        "class=\"action-mark",
        "id=\"action-time\"",
    ] {
        assert!(!plain.contains(absent), "{absent} without actions");
    }
}

#[test]
fn json_keeps_the_action_fields_camel_case() {
    let doc = document_with_actions();
    let json: serde_json::Value =
        serde_json::from_str(&doc.render(Format::Json)).unwrap_or_default();
    let first = &json["actions"][0];
    assert_eq!(first["name"], "pre-check");
    assert_eq!(first["type"], "LAMBDA");
    assert_eq!(first["when"], "BEFORE_LAUNCH");
    assert_eq!(first["onFailure"], "FAIL");
    assert_eq!(first["startTime"], 940);
    assert_eq!(first["endTime"], 990);
    assert_eq!(first["seconds"], 50);
    assert_eq!(first["failedTheWave"], false);
    assert_eq!(json["actions"][1]["automationExecutionId"], "<i>auto-1</i>");
    assert_eq!(json["failedActions"][0]["error"], HOSTILE_ERROR);
    assert_eq!(json["failedActions"][0]["status"], "TIMED_OUT");
    assert_eq!(json["actionTime"]["beforeLaunchSeconds"], 350);
    assert_eq!(json["waves"][0]["actionTime"]["afterCompleteSeconds"], 10);
    assert_eq!(json["recovery"]["actionSeconds"], 310);
    assert_eq!(
        json["timeline"]["marks"][0]["kind"],
        "BEFORE_LAUNCH_ACTION_STARTED"
    );
    assert_eq!(json["timeline"]["marks"][0]["action"], "pre-check");
    assert_eq!(json["timeline"]["marks"][0]["attempt"], 1);
    // A report without actions keeps the shape it had: empty lists, no action figures.
    let plain: serde_json::Value =
        serde_json::from_str(&document().render(Format::Json)).unwrap_or_default();
    assert_eq!(plain["actions"], serde_json::json!([]));
    assert!(plain.get("actionTime").is_none());
    assert!(plain["recovery"].get("actionSeconds").is_none());
}

#[test]
fn a_running_action_shows_as_running_in_every_format() {
    let (mut e, trail) = drill_with_actions();
    // Wave 1 has not launched: its action runs, refused for now by SSM.
    e.header.status = ExecutionStatus::Polling;
    e.header.end_time = None;
    e.header.last_polled_time = Some(Timestamp(1700));
    let w = &mut e.waves[1];
    never_launched(w, WaveStatus::Pending);
    w.action_runs[0].status = ActionStatus::Running;
    w.action_runs[0].end_time = None;
    w.action_runs[0].error = Some("ThrottlingException: Rate exceeded".into());
    w.action_runs[0].retry_time = Some(Timestamp(1710));
    let doc = Document::of(Report::build(&e, &trail[..1]));
    let text = doc.render(Format::Text);
    assert!(text.contains("1m 10s so far"), "{text}");
    assert!(text.contains("still running; refused for now, sent again from 1970-01-01T00:28:30Z; last refusal: ThrottlingException: Rate exceeded"), "{text}");
    assert!(text.contains(" → …  action <script>"), "{text}");
    assert!(text.contains("1 running"), "{text}");
    let md = doc.render(Format::Markdown);
    assert!(md.contains("| still running | 1m 10s so far |"), "{md}");
    let html = doc.render(Format::Html);
    assert!(html.contains("<rect class=\"action-run before-launch running\""));
    assert!(html.contains("refused for now; sent again from 1970-01-01T00:28:30Z"));
    assert_eq!(
        html.matches("data-kind=\"BEFORE_LAUNCH_ACTION_STARTED\"")
            .count(),
        2
    );
    let json: serde_json::Value =
        serde_json::from_str(&doc.render(Format::Json)).unwrap_or_default();
    assert_eq!(json["actions"][2]["status"], "RUNNING");
    assert!(json["actions"][2].get("endTime").is_none());
    assert_eq!(json["actions"][2]["seconds"], 70);
}

// ---------------------------------------------------------------------------------------------
// Wave boundaries
// ---------------------------------------------------------------------------------------------

/// [`drill`]'s one boundary: wave 0's job ended (DRS) at 1470, wave 1's was created at 2005:
/// 535 s, of which the plan's pause (1500..1620) 120 s, and the engine's wait 415 s.
#[test]
fn every_format_shows_each_wave_boundarys_gap_and_what_of_it_the_engine_waited() {
    let doc = document();
    let b = &doc.report.boundaries;
    assert_eq!(b.len(), 1);
    assert_eq!(
        boundary_label(&b[0]),
        format!("0 ({HOSTILE_WAVE}) → 1"),
        "wave 1 has no name"
    );
    assert_eq!(boundary_clocks(&b[0]), "DRS → DRS");

    let text = doc.render(Format::Text);
    for expected in [
        "\nWave boundaries (last server launched in DRS to the next wave's first StartRecovery):\n  BOUNDARY ",
        "  0 (db\\u{1b}[31m\\nWave 7: </text><script>x</script>) → 1  8m 55s  2m 00s  0s          6m 55s       DRS → DRS\n",
        BOUNDARIES_DEFINITION,
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    // Under the waves' tables, before the pauses.
    let at = |s: &str| {
        text.find(s)
            .unwrap_or_else(|| panic!("no {s:?} in\n{text}"))
    };
    assert!(
        at("\nWave 1: FAILED") < at("\nWave boundaries (")
            && at("\nWave boundaries (") < at("\nPauses:")
    );

    let markdown = doc.render(Format::Markdown);
    for expected in [
        "\n## Wave boundaries\n\n| Boundary | From: last server launched | To: next wave's first StartRecovery | Gap | Paused | In actions | Engine wait |\n|---|---|---|---|---|---|---|\n".to_owned(),
        format!(
            "| 0 \\({}\\) → 1 | 1970-01-01T00:24:30Z (DRS job endDateTime) | 1970-01-01T00:33:25Z (DRS job creationDateTime) | 8m 55s | 2m 00s | 0s | **6m 55s** |\n",
            md(HOSTILE_WAVE)
        ),
        md(BOUNDARIES_DEFINITION),
    ] {
        assert!(markdown.contains(&expected), "missing {expected:?} in\n{markdown}");
    }

    let html = doc.render(Format::Html);
    let section = &html[html
        .find("<section id=\"boundaries\"><h2>Wave boundaries</h2>")
        .unwrap_or_else(|| panic!("no boundaries section in {html}"))..];
    let section = &section[..section.find("</section>").unwrap_or_default()];
    assert!(
        section.contains("<tr data-from-wave=\"0\" data-to-wave=\"1\" data-source=\"DRS\"><th scope=\"row\">0 (db\u{1b}[31m\nWave 7: &lt;/text&gt;&lt;script&gt;x&lt;/script&gt;) → 1</th>"),
        "{section}"
    );
    assert!(
        section.contains(
            "1970-01-01T00:24:30Z</span><br><small title=\"DRS\">DRS job endDateTime</small>"
        ),
        "{section}"
    );
    assert!(
        section.contains(
            "1970-01-01T00:33:25Z</span><br><small title=\"DRS\">DRS job creationDateTime</small>"
        ),
        "{section}"
    );
    assert!(
        section.contains("<td class=\"gap\">8m 55s</td><td class=\"paused\">2m 00s</td><td class=\"in-actions\">0s</td><td class=\"wait\"><strong>6m 55s</strong></td>"),
        "{section}"
    );
    // Between the objectives and the timeline.
    let at = |s: &str| html.find(s).unwrap_or_default();
    assert!(
        at("id=\"objectives\"") < at("id=\"boundaries\"")
            && at("id=\"boundaries\"") < at("id=\"timeline\"")
    );

    let json: serde_json::Value =
        serde_json::from_str(&doc.render(Format::Json)).unwrap_or_default();
    let b = &json["boundaries"][0];
    assert_eq!(
        (
            &b["fromWave"],
            &b["toWave"],
            &b["fromWaveName"],
            &b["source"]
        ),
        (&0.into(), &1.into(), &HOSTILE_WAVE.into(), &"DRS".into())
    );
    assert_eq!(
        (
            &b["gapSeconds"],
            &b["pausedSeconds"],
            &b["actionSeconds"],
            &b["waitSeconds"]
        ),
        (&535.into(), &120.into(), &0.into(), &415.into())
    );
    assert_eq!(
        (&b["from"]["time"], &b["from"]["field"], &b["to"]["time"]),
        (&1470.into(), &"DRS job endDateTime".into(), &2005.into())
    );
}

/// With actions: wave 0's dns-switch (1485..1495) and wave 1's before-launch action
/// (1630..1930) ran in the boundary, around the pause: 310 s in actions, 120 s paused, 105 s
/// the engine's.
#[test]
fn a_boundarys_actions_are_apart_from_the_engines_wait_in_every_format() {
    let doc = document_with_actions();
    let text = doc.render(Format::Text);
    assert!(
        text.contains("→ 1  8m 55s  2m 00s  5m 10s      1m 45s       DRS → DRS\n"),
        "{text}"
    );
    let markdown = doc.render(Format::Markdown);
    assert!(
        markdown.contains("| 8m 55s | 2m 00s | 5m 10s | **1m 45s** |\n"),
        "{markdown}"
    );
    let html = doc.render(Format::Html);
    assert!(html.contains("<td class=\"gap\">8m 55s</td><td class=\"paused\">2m 00s</td><td class=\"in-actions\">5m 10s</td><td class=\"wait\"><strong>1m 45s</strong></td>"));
    let json: serde_json::Value =
        serde_json::from_str(&doc.render(Format::Json)).unwrap_or_default();
    assert_eq!(
        (
            &json["boundaries"][0]["actionSeconds"],
            &json["boundaries"][0]["waitSeconds"]
        ),
        (&310.into(), &105.into())
    );
}

#[test]
fn without_a_launched_boundary_no_format_has_the_section() {
    // Wave 1 never launched: the execution was cancelled after wave 0.
    let (mut e, trail) = drill();
    never_launched(&mut e.waves[1], WaveStatus::Cancelled);
    e.header.status = ExecutionStatus::Cancelled;
    let doc = Document::of(Report::build(&e, &trail));
    assert!(doc.report.boundaries.is_empty());
    assert!(!doc.render(Format::Text).contains("Wave boundaries"));
    assert!(!doc.render(Format::Markdown).contains("Wave boundaries"));
    assert!(!doc.render(Format::Html).contains("id=\"boundaries\""));
    let json: serde_json::Value =
        serde_json::from_str(&doc.render(Format::Json)).unwrap_or_default();
    assert_eq!(json["boundaries"], serde_json::json!([]));
}

/// Every Markdown table row has as many cells as its header: no outside text added a column.
fn assert_tables_keep_their_columns(out: &str) {
    let mut columns = None;
    for line in out.lines() {
        if !line.starts_with('|') {
            columns = None;
            continue;
        }
        let cells = line.replace("\\|", "").matches('|').count();
        match columns {
            None => columns = Some(cells),
            Some(n) => assert_eq!(n, cells, "{line}"),
        }
    }
}
