//! Recovery plans and the execution created from one.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::actions::{ActionFault, PlanAction, WaveAction, MAX_ACTIONS_PER_WAVE};
use crate::ids::{ExecutionId, PlanId, SourceServerId};
use crate::model::{
    Execution, ExecutionHeader, FailurePolicy, Impact, ServerStatus, Timestamp, Wave,
};
use crate::status::{ExecutionStatus, WaveStatus};

/// A wave is launched as as many DRS jobs as it needs (`maxServersPerJob` servers each).
pub const MAX_SERVERS_PER_WAVE: usize = 1000;
/// A finalize writes the header and every never-run wave in one transaction of at most 100 items.
pub const MAX_WAVES: usize = 99;
/// Plan, wave and server names: enough for any naming scheme, small enough that 200 named servers
/// stay far below DynamoDB's 400 KB item limit.
pub const MAX_NAME_CHARS: usize = 255;
/// Used when neither the wave nor the plan names a timeout.
pub const DEFAULT_WAVE_TIMEOUT_SECONDS: u64 = 3600;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plan {
    pub plan_id: PlanId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_name: Option<String>,
    /// Drill (`true`, the default) or real recovery.
    #[serde(default = "yes")]
    pub is_drill: bool,
    /// Plan-level default for waves that set no timeout of their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wave_timeout_seconds: Option<u64>,
    /// What a failed wave does, for waves that do not say: PAUSE (the default) or STOP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_wave_failure: Option<FailurePolicy>,
    /// The recovery time objective of the whole plan, in seconds (the report says met or missed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_rto_seconds: Option<i64>,
    /// Drills only: terminate the drill's recovery instances this many seconds after it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup_after_seconds: Option<i64>,
    pub waves: Vec<PlanWave>,
}

/// The longest `cleanupAfterSeconds`, 30 days: the workflow run that waits it out must end within
/// Step Functions' one year however long the drill ran, and a drill's instances left running
/// longer than a month are better cleaned up by hand.
pub const MAX_CLEANUP_AFTER_SECONDS: i64 = 30 * 24 * 3600;

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanWave {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wave_name: Option<String>,
    #[serde(default)]
    pub pause_before_wave: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// PAUSE (wait for an operator's retry, skip or cancel) or STOP (finalize FAILED).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<FailurePolicy>,
    /// This wave's recovery time objective, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_rto_seconds: Option<i64>,
    /// Checks and changes run before the wave launches or after it completed (at most 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<PlanAction>,
    pub servers: Vec<PlanServer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanServer {
    pub source_server_id: SourceServerId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// CRITICAL (the default): the wave needs it launched; OPTIONAL: the wave completes without
    /// it, and the execution ends COMPLETED_WITH_ERRORS.
    #[serde(default)]
    pub impact: Impact,
}

/// Why a plan cannot run. Every problem is reported, not only the first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanProblem {
    #[error("the plan has no waves")]
    NoWaves,
    #[error("the plan has {0} waves; at most {MAX_WAVES} are supported")]
    TooManyWaves(usize),
    #[error("wave {0} has no servers")]
    EmptyWave(u32),
    #[error("wave {wave} has {count} servers; a wave holds at most {MAX_SERVERS_PER_WAVE}")]
    TooManyServers { wave: u32, count: usize },
    #[error("server {server} is in wave {first} and again in wave {again}")]
    DuplicateServer {
        server: SourceServerId,
        first: u32,
        again: u32,
    },
    #[error("wave {0} has a timeout of 0 seconds")]
    ZeroTimeout(u32),
    #[error("{what} is {chars} characters long; at most {MAX_NAME_CHARS} are allowed")]
    NameTooLong { what: String, chars: usize },
    /// `what` is `targetRtoSeconds` or `the targetRtoSeconds of wave N`.
    #[error("{what} is {value}; a recovery time objective is a positive number of seconds")]
    NonPositiveTarget { what: String, value: i64 },
    #[error(
        "cleanupAfterSeconds is {0}; it must be between 0 and {MAX_CLEANUP_AFTER_SECONDS} seconds"
    )]
    CleanupDelayOutOfRange(i64),
    #[error("cleanupAfterSeconds is set on a recovery (isDrill false): a recovery's instances are production and are never cleaned up")]
    CleanupOfRecovery,
    #[error("wave {wave} has {count} actions; a wave runs at most {MAX_ACTIONS_PER_WAVE}")]
    TooManyActions { wave: u32, count: usize },
    /// `action` is the action's name, or `#N` (1-based) when it has none.
    #[error("action {action} of wave {wave} {fault}")]
    Action {
        wave: u32,
        action: String,
        fault: ActionFault,
    },
}

/// The actions of wave `n`, checked, or every problem they have.
fn action_problems(
    n: u32,
    wave: &PlanWave,
    wave_timeout: u64,
) -> Result<Vec<WaveAction>, Vec<PlanProblem>> {
    let mut problems = Vec::new();
    if wave.actions.len() > MAX_ACTIONS_PER_WAVE {
        problems.push(PlanProblem::TooManyActions {
            wave: n,
            count: wave.actions.len(),
        });
    }
    let mut actions = Vec::new();
    for (i, action) in wave.actions.iter().enumerate() {
        let label = if action.name.is_empty() {
            format!("#{}", i + 1)
        } else {
            format!("'{}'", crate::text::clip(&action.name, 64))
        };
        let mut faults = match action.check(wave_timeout, wave.servers.len()) {
            Ok(checked) => {
                actions.push(checked);
                Vec::new()
            }
            Err(faults) => faults,
        };
        if !action.name.is_empty() && wave.actions[..i].iter().any(|a| a.name == action.name) {
            faults.push(ActionFault::DuplicateName);
        }
        problems.extend(faults.into_iter().map(|fault| PlanProblem::Action {
            wave: n,
            action: label.clone(),
            fault,
        }));
    }
    if problems.is_empty() {
        Ok(actions)
    } else {
        Err(problems)
    }
}

/// Something in a plan worth a second look; the plan still runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanWarning {
    /// Printed as it is, such a name could recolour a terminal, forge a line of a report or
    /// reorder the text around it; drctl shows these characters escaped.
    #[error("{what} contains control or bidi characters ({code_points}), which a terminal would act on instead of showing")]
    ControlCharacters { what: String, code_points: String },
}

/// A character a terminal acts on instead of showing: a control character (C0, DEL, C1: ESC
/// starts a colour change, a newline starts a line) or a bidirectional formatting character
/// (UAX #9: the embeddings, overrides and isolates U+202A–U+202E and U+2066–U+2069, and the
/// marks U+200E, U+200F, U+061C), which reorders the text around it.
pub fn is_control_or_bidi(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

impl Plan {
    /// What a plan may mean but probably does not: names with control or bidi characters.
    pub fn warnings(&self) -> Vec<PlanWarning> {
        let mut warnings = Vec::new();
        let mut check = |what: &dyn Fn() -> String, value: &Option<String>| {
            let mut found: Vec<String> = Vec::new();
            for c in value.iter().flat_map(|v| v.chars()) {
                let code = format!("U+{:04X}", u32::from(c));
                if is_control_or_bidi(c) && !found.contains(&code) {
                    found.push(code);
                }
            }
            if !found.is_empty() {
                warnings.push(PlanWarning::ControlCharacters {
                    what: what(),
                    code_points: found.join(", "),
                });
            }
        };
        check(&|| "planName".into(), &self.plan_name);
        for (n, wave) in self.waves.iter().enumerate() {
            check(&|| format!("the name of wave {n}"), &wave.wave_name);
            for server in &wave.servers {
                check(
                    &|| format!("the name of server {}", server.source_server_id),
                    &server.server_name,
                );
            }
        }
        warnings
    }

    /// Every reason this plan cannot be executed; empty when it can.
    pub fn problems(&self) -> Vec<PlanProblem> {
        let mut problems = Vec::new();
        if self.waves.is_empty() {
            problems.push(PlanProblem::NoWaves);
        }
        if self.waves.len() > MAX_WAVES {
            problems.push(PlanProblem::TooManyWaves(self.waves.len()));
        }
        if self.wave_timeout_seconds == Some(0) {
            problems.push(PlanProblem::ZeroTimeout(0));
        }
        if let Some(value) = self.target_rto_seconds.filter(|v| *v <= 0) {
            problems.push(PlanProblem::NonPositiveTarget {
                what: "targetRtoSeconds".into(),
                value,
            });
        }
        if let Some(delay) = self.cleanup_after_seconds {
            if !(0..=MAX_CLEANUP_AFTER_SECONDS).contains(&delay) {
                problems.push(PlanProblem::CleanupDelayOutOfRange(delay));
            }
            if !self.is_drill {
                problems.push(PlanProblem::CleanupOfRecovery);
            }
        }
        for (n, wave) in self.waves.iter().enumerate() {
            if let Some(value) = wave.target_rto_seconds.filter(|v| *v <= 0) {
                problems.push(PlanProblem::NonPositiveTarget {
                    what: format!("the targetRtoSeconds of wave {n}"),
                    value,
                });
            }
        }
        let mut name = |what: &dyn Fn() -> String, value: &Option<String>| {
            let chars = value.as_deref().map_or(0, |v| v.chars().count());
            if chars > MAX_NAME_CHARS {
                problems.push(PlanProblem::NameTooLong {
                    what: what(),
                    chars,
                });
            }
        };
        name(&|| "planName".into(), &self.plan_name);
        for (n, wave) in self.waves.iter().enumerate() {
            name(&|| format!("the name of wave {n}"), &wave.wave_name);
            for server in &wave.servers {
                name(
                    &|| format!("the name of server {}", server.source_server_id),
                    &server.server_name,
                );
            }
        }
        let mut seen: HashMap<&SourceServerId, u32> = HashMap::new();
        for (n, wave) in (0u32..).zip(&self.waves) {
            if wave.servers.is_empty() {
                problems.push(PlanProblem::EmptyWave(n));
            }
            if wave.servers.len() > MAX_SERVERS_PER_WAVE {
                problems.push(PlanProblem::TooManyServers {
                    wave: n,
                    count: wave.servers.len(),
                });
            }
            if wave.timeout_seconds == Some(0) {
                problems.push(PlanProblem::ZeroTimeout(n));
            }
            problems.extend(
                action_problems(n, wave, self.wave_timeout(wave))
                    .err()
                    .unwrap_or_default(),
            );
            for server in &wave.servers {
                if let Some(first) = seen.insert(&server.source_server_id, n) {
                    problems.push(PlanProblem::DuplicateServer {
                        server: server.source_server_id.clone(),
                        first,
                        again: n,
                    });
                }
            }
        }
        problems
    }

    /// The timeout of `wave`: its own, else the plan's, else the default.
    pub fn wave_timeout(&self, wave: &PlanWave) -> u64 {
        wave.timeout_seconds
            .or(self.wave_timeout_seconds)
            .unwrap_or(DEFAULT_WAVE_TIMEOUT_SECONDS)
    }

    /// A new execution of this plan: PENDING, every wave PENDING, every server PENDING.
    pub fn new_execution(
        &self,
        execution_id: ExecutionId,
        now: Timestamp,
    ) -> Result<Execution, Vec<PlanProblem>> {
        let problems = self.problems();
        if !problems.is_empty() {
            return Err(problems);
        }
        let default_timeout = self
            .wave_timeout_seconds
            .unwrap_or(DEFAULT_WAVE_TIMEOUT_SECONDS);
        let default_policy = self.on_wave_failure.unwrap_or_default();
        let waves = (0u32..)
            .zip(&self.waves)
            .map(|(n, w)| Wave {
                wave_number: n,
                wave_name: w.wave_name.clone(),
                status: WaveStatus::Pending,
                pause_before_wave: w.pause_before_wave,
                pause_approved: false,
                timeout_seconds: w.timeout_seconds.unwrap_or(default_timeout),
                // Written into the record, so a change of default never changes a run's course.
                on_failure: Some(w.on_failure.unwrap_or(default_policy)),
                attempt: 0,
                jobs: Vec::new(),
                claim: None,
                launch_attempts: 0,
                last_launch_error: None,
                next_launch_time: None,
                launch_time: None,
                attempt_time: None,
                end_time: None,
                recovery_time_seconds: None,
                target_rto_seconds: w.target_rto_seconds.and_then(|v| u64::try_from(v).ok()),
                optional_not_launched: 0,
                failure_reason: None,
                status_message: None,
                actions: action_problems(n, w, self.wave_timeout(w)).unwrap_or_default(),
                action_runs: Vec::new(),
                version: 0,
                server_statuses: w
                    .servers
                    .iter()
                    .map(|s| ServerStatus {
                        impact: s.impact,
                        ..ServerStatus::new(s.source_server_id.clone(), s.server_name.clone())
                    })
                    .collect(),
            })
            .collect();
        Ok(Execution {
            header: ExecutionHeader {
                execution_id,
                plan_id: self.plan_id,
                plan_name: self.plan_name.clone(),
                is_drill: self.is_drill,
                status: ExecutionStatus::Pending,
                created_time: now,
                start_time: None,
                end_time: None,
                last_polled_time: None,
                workflow_run: None,
                workflow_polled_time: None,
                restarts: Vec::new(),
                paused_before_wave: None,
                pause_reason: None,
                failed_wave: None,
                task_token: None,
                status_message: None,
                recovery_time_seconds: None,
                target_rto_seconds: self.target_rto_seconds.and_then(|v| u64::try_from(v).ok()),
                cleanup_after_seconds: self
                    .cleanup_after_seconds
                    .and_then(|v| u64::try_from(v).ok()),
                version: 0,
            },
            waves,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(n: usize) -> PlanServer {
        PlanServer {
            source_server_id: SourceServerId::parse(&format!("s-{n:017}")).unwrap(),
            server_name: Some(format!("srv-{n}")),
            impact: Impact::Critical,
        }
    }

    fn wave(servers: std::ops::Range<usize>) -> PlanWave {
        PlanWave {
            target_rto_seconds: None,
            wave_name: None,
            pause_before_wave: false,
            timeout_seconds: None,
            on_failure: None,
            actions: Vec::new(),
            servers: servers.map(server).collect(),
        }
    }

    fn plan(waves: Vec<PlanWave>) -> Plan {
        Plan {
            target_rto_seconds: None,
            cleanup_after_seconds: None,
            plan_id: PlanId::new_random(),
            plan_name: None,
            is_drill: true,
            wave_timeout_seconds: Some(900),
            on_wave_failure: None,
            waves,
        }
    }

    #[test]
    fn a_new_execution_is_pending_throughout() {
        let mut p = plan(vec![wave(0..2), wave(2..5)]);
        p.waves[1].timeout_seconds = Some(60);
        p.waves[1].pause_before_wave = true;
        let e = p
            .new_execution(ExecutionId::new_random(), Timestamp(100))
            .unwrap();
        assert_eq!(e.status(), ExecutionStatus::Pending);
        assert_eq!(e.header.created_time, Timestamp(100));
        assert_eq!(e.waves.len(), 2);
        assert!(e.waves.iter().all(|w| w.status == WaveStatus::Pending));
        assert_eq!(e.waves[0].wave_number, 0);
        assert_eq!(e.waves[0].timeout_seconds, 900, "plan default");
        assert_eq!(e.waves[1].timeout_seconds, 60, "wave override");
        assert!(e.waves[1].pause_before_wave && !e.waves[1].pause_approved);
        assert_eq!(e.total_servers(), 5);
        assert!(!e.all_waves_complete());
    }

    #[test]
    fn default_timeout_when_plan_names_none() {
        let mut p = plan(vec![wave(0..1)]);
        p.wave_timeout_seconds = None;
        let e = p
            .new_execution(ExecutionId::new_random(), Timestamp(0))
            .unwrap();
        assert_eq!(e.waves[0].timeout_seconds, DEFAULT_WAVE_TIMEOUT_SECONDS);
    }

    #[test]
    fn refuses_a_plan_without_waves() {
        assert_eq!(plan(vec![]).problems(), vec![PlanProblem::NoWaves]);
    }

    #[test]
    fn refuses_an_empty_wave() {
        assert_eq!(
            plan(vec![wave(0..1), wave(1..1)]).problems(),
            vec![PlanProblem::EmptyWave(1)]
        );
    }

    #[test]
    fn refuses_a_server_in_two_waves() {
        let p = plan(vec![wave(0..3), wave(2..4)]);
        assert_eq!(
            p.problems(),
            vec![PlanProblem::DuplicateServer {
                server: server(2).source_server_id,
                first: 0,
                again: 1
            }]
        );
        assert!(p
            .new_execution(ExecutionId::new_random(), Timestamp(0))
            .is_err());
    }

    #[test]
    fn a_thousand_servers_fit_in_a_wave_and_a_thousand_and_one_do_not() {
        assert!(plan(vec![wave(0..1000)]).problems().is_empty());
        assert_eq!(
            plan(vec![wave(0..1001)]).problems(),
            vec![PlanProblem::TooManyServers {
                wave: 0,
                count: 1001
            }]
        );
    }

    #[test]
    fn failure_policy_and_impact_go_into_the_record() {
        let mut p = plan(vec![wave(0..2), wave(2..3), wave(3..4)]);
        p.waves[1].on_failure = Some(FailurePolicy::Stop);
        p.waves[0].servers[1].impact = Impact::Optional;
        let e = p
            .new_execution(ExecutionId::new_random(), Timestamp(0))
            .unwrap();
        assert_eq!(
            e.waves[0].on_failure,
            Some(FailurePolicy::Pause),
            "the default"
        );
        assert_eq!(e.waves[1].on_failure, Some(FailurePolicy::Stop));
        assert_eq!(e.waves[0].server_statuses[1].impact, Impact::Optional);
        assert_eq!(e.waves[0].server_statuses[0].impact, Impact::Critical);
        p.on_wave_failure = Some(FailurePolicy::Stop);
        let e = p
            .new_execution(ExecutionId::new_random(), Timestamp(0))
            .unwrap();
        assert_eq!(
            e.waves[0].on_failure,
            Some(FailurePolicy::Stop),
            "plan level"
        );
    }

    #[test]
    fn values_that_do_not_exist_are_refused() {
        let base = serde_json::json!({
            "planId": "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
            "waves": [{"servers": [{"sourceServerId": "s-00000000000000001"}]}]
        });
        for (pointer, value) in [
            ("/waves/0/servers/0/impact", "IMPORTANT"),
            ("/waves/0/onFailure", "RETRY"),
            ("/onWaveFailure", "pause"),
        ] {
            let mut doc = base.clone();
            let (parent, field) = pointer.rsplit_once('/').unwrap();
            doc.pointer_mut(if parent.is_empty() { "" } else { parent })
                .unwrap()
                .as_object_mut()
                .unwrap()
                .insert(field.into(), value.into());
            let err = serde_json::from_value::<Plan>(doc).unwrap_err().to_string();
            assert!(err.contains("unknown variant"), "{pointer}: {err}");
        }
    }

    #[test]
    fn refuses_too_many_waves_and_zero_timeouts() {
        let waves = (0..100).map(|i| wave(i..i + 1)).collect();
        assert_eq!(plan(waves).problems(), vec![PlanProblem::TooManyWaves(100)]);
        let mut p = plan(vec![wave(0..1)]);
        p.waves[0].timeout_seconds = Some(0);
        assert_eq!(p.problems(), vec![PlanProblem::ZeroTimeout(0)]);
    }

    #[test]
    fn refuses_names_too_long_to_store() {
        let mut p = plan(vec![wave(0..2)]);
        p.plan_name = Some("p".repeat(MAX_NAME_CHARS));
        p.waves[0].servers[1].server_name = Some("é".repeat(MAX_NAME_CHARS + 1));
        let problems = p.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].to_string(), "the name of server s-00000000000000001 is 256 characters long; at most 255 are allowed");
        p.waves[0].wave_name = Some("w".repeat(300));
        assert_eq!(p.problems().len(), 2);
    }

    #[test]
    fn names_with_control_or_bidi_characters_are_warned_about() {
        let mut p = plan(vec![wave(0..2), wave(2..3)]);
        assert_eq!(p.warnings(), vec![], "plain names");
        p.waves[1].wave_name = Some("名前 — café".into());
        assert_eq!(p.warnings(), vec![], "non-ASCII text is fine");
        p.plan_name = Some("drill\u{1b}[31m".into());
        p.waves[0].servers[1].server_name = Some("db\nWave 9: COMPLETED\u{202e}\n".into());
        p.waves[1].wave_name = Some("web\u{2066}".into());
        let warnings: Vec<String> = p.warnings().iter().map(ToString::to_string).collect();
        assert_eq!(
            warnings,
            [
                "planName contains control or bidi characters (U+001B), which a terminal would act on instead of showing",
                "the name of server s-00000000000000001 contains control or bidi characters (U+000A, U+202E), which a terminal would act on instead of showing",
                "the name of wave 1 contains control or bidi characters (U+2066), which a terminal would act on instead of showing",
            ]
        );
        assert!(p.problems().is_empty(), "a warning, not a problem");
    }

    #[test]
    fn control_and_bidi_characters() {
        for c in [
            '\0', '\n', '\t', '\u{1b}', '\u{7f}', '\u{9b}', '\u{202a}', '\u{202e}', '\u{2066}',
            '\u{2069}', '\u{200e}', '\u{200f}', '\u{61c}',
        ] {
            assert!(is_control_or_bidi(c), "{c:?}");
        }
        for c in ['a', ' ', 'é', '名', '\u{2070}', '\u{2029}', '\u{200d}'] {
            assert!(!is_control_or_bidi(c), "{c:?}");
        }
    }

    #[test]
    fn reports_every_problem_at_once() {
        let p = plan(vec![wave(0..0), wave(1..1002), wave(5..6)]);
        let problems = p.problems();
        assert!(problems.contains(&PlanProblem::EmptyWave(0)));
        assert!(problems.contains(&PlanProblem::TooManyServers {
            wave: 1,
            count: 1001
        }));
        assert!(problems
            .iter()
            .any(|p| matches!(p, PlanProblem::DuplicateServer { again: 2, .. })));
    }

    #[test]
    fn plan_json_is_camel_case_and_strict() {
        let json = serde_json::json!({
            "planId": "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
            "waves": [{"pauseBeforeWave": true, "servers": [{"sourceServerId": "s-00000000000000001"}]}]
        });
        let p: Plan = serde_json::from_value(json).unwrap();
        assert!(p.is_drill, "drill unless said otherwise");
        assert!(p.waves[0].pause_before_wave);
        let typo =
            serde_json::json!({"planId": "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00", "wavez": []});
        assert!(serde_json::from_value::<Plan>(typo).is_err());
    }

    #[test]
    fn targets_and_cleanup_are_checked_and_carried_into_the_record() {
        let json = serde_json::json!({
            "planId": "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
            "targetRtoSeconds": 0,
            "cleanupAfterSeconds": -5,
            "waves": [{"targetRtoSeconds": -60, "servers": [{"sourceServerId": "s-00000000000000001"}]}]
        });
        let p: Plan = serde_json::from_value(json).unwrap();
        let problems = p.problems();
        assert_eq!(
            problems,
            [
                PlanProblem::NonPositiveTarget {
                    what: "targetRtoSeconds".into(),
                    value: 0
                },
                PlanProblem::CleanupDelayOutOfRange(-5),
                PlanProblem::NonPositiveTarget {
                    what: "the targetRtoSeconds of wave 0".into(),
                    value: -60
                },
            ]
        );
        assert!(problems[0]
            .to_string()
            .contains("positive number of seconds"));

        let mut recovery = plan(vec![wave(0..1)]);
        recovery.is_drill = false;
        recovery.cleanup_after_seconds = Some(60);
        assert_eq!(recovery.problems(), [PlanProblem::CleanupOfRecovery]);
        recovery.cleanup_after_seconds = Some(MAX_CLEANUP_AFTER_SECONDS + 1);
        recovery.is_drill = true;
        assert_eq!(
            recovery.problems(),
            [PlanProblem::CleanupDelayOutOfRange(
                MAX_CLEANUP_AFTER_SECONDS + 1
            )]
        );

        let mut drill = plan(vec![wave(0..1), wave(1..2)]);
        drill.target_rto_seconds = Some(3600);
        drill.cleanup_after_seconds = Some(0);
        drill.waves[1].target_rto_seconds = Some(600);
        let e = drill
            .new_execution(ExecutionId::new_random(), Timestamp(5))
            .unwrap();
        assert_eq!(e.header.target_rto_seconds, Some(3600));
        assert_eq!(e.header.cleanup_after_seconds, Some(0));
        assert_eq!(e.waves[0].target_rto_seconds, None);
        assert_eq!(e.waves[1].target_rto_seconds, Some(600));
    }
}
