use std::path::Path;

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
    // Every table row has as many cells as its header: no name added a column.
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
    for expected in [
        "## Recovery time against the objective",
        "| **Execution** | 30m 00s | – | ❌ **MISSED** |",
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
