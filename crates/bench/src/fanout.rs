//! Benchmark 4: find's fan-out. N active executions in the memory store, a poll dispatch that
//! takes P (a sleep: the Lambda invoke find waits on), find's wall time against ceil(N/C)·P.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use drs_sim::MemoryStore;
use execution_core::ids::{ExecutionId, PlanId};
use execution_core::model::{Execution, ExecutionHeader, Timestamp};
use execution_core::ops::{self, FindConfig};
use execution_core::ports::{Clock, DispatchError, PollDispatch};
use execution_core::status::ExecutionStatus;
use serde::Serialize;
use serde_json::json;

use crate::report::{verdict, Report};

const TARGET_RATIO: f64 = 1.2;
/// find runs every minute; the polls of one tick must fit in it.
const TICK: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Case {
    pub executions: usize,
    pub concurrency: usize,
    /// Every poll takes this long; with `jitter`, polls take from P/2 to 3P/2 (mean P).
    pub poll: Duration,
    pub jitter: bool,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Outcome {
    pub wall: Duration,
    pub ideal: Duration,
    pub ratio: f64,
    pub polled: usize,
    /// The most polls that were in flight at once.
    pub peak_concurrency: usize,
    /// Poll time summed over wall time: how many polls were in flight on average.
    pub mean_concurrency: f64,
}

/// The cases run by `all`: C = 16 and C = 1 on the same N and P, then the 1000 × 200 ms
/// (whose C = 1 twin would take 200 s, and is computed rather than run).
pub const CASES: [Case; 5] = [
    Case {
        executions: 100,
        concurrency: 16,
        poll: Duration::from_millis(50),
        jitter: false,
    },
    Case {
        executions: 100,
        concurrency: 1,
        poll: Duration::from_millis(50),
        jitter: false,
    },
    Case {
        executions: 100,
        concurrency: 16,
        poll: Duration::from_millis(50),
        jitter: true,
    },
    Case {
        executions: 1000,
        concurrency: 16,
        poll: Duration::from_millis(200),
        jitter: false,
    },
    Case {
        executions: 1000,
        concurrency: 16,
        poll: Duration::from_millis(200),
        jitter: true,
    },
];

/// A poll that takes its execution's time and reports POLLING.
struct SleepingDispatch {
    time: HashMap<ExecutionId, Duration>,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

#[async_trait]
impl PollDispatch for SleepingDispatch {
    async fn poll(&self, id: ExecutionId, _: PlanId) -> Result<ExecutionStatus, DispatchError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(self.time.get(&id).copied().unwrap_or_default()).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(ExecutionStatus::Polling)
    }
}

struct WallClock;

impl Clock for WallClock {
    fn now_millis(&self) -> i64 {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        since.map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A POLLING execution with no waves: find reads only the index, the dispatch does the rest.
fn active(n: usize) -> Result<Execution, String> {
    let id = ExecutionId::parse(&format!("00000000-0000-4000-8000-{n:012}"))
        .map_err(|e| e.to_string())?;
    let plan_id =
        PlanId::parse("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d").map_err(|e| e.to_string())?;
    Ok(Execution {
        header: ExecutionHeader {
            execution_id: id,
            plan_id,
            plan_name: None,
            is_drill: true,
            status: ExecutionStatus::Polling,
            created_time: Timestamp(1_767_225_600),
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
            target_rto_seconds: None,
            cleanup_after_seconds: None,
            version: 0,
        },
        waves: Vec::new(),
    })
}

/// Poll `i`'s time: P, or with jitter spread evenly over P/2..3P/2 in a scrambled order.
fn poll_time(case: &Case, i: usize) -> Duration {
    if !case.jitter {
        return case.poll;
    }
    let step = (i * 7919) % 101; // 0..=100, a fixed permutation-like spread
    case.poll / 2 + case.poll * u32::try_from(step).unwrap_or(0) / 100
}

pub async fn measure(case: Case) -> Result<Outcome, String> {
    let executions: Vec<Execution> = (0..case.executions).map(active).collect::<Result<_, _>>()?;
    let time: HashMap<ExecutionId, Duration> = executions
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id(), poll_time(&case, i)))
        .collect();
    let busy: Duration = time.values().sum();
    let store =
        MemoryStore::with_executions(executions).map_err(|id| format!("duplicate id {id}"))?;
    let dispatch = SleepingDispatch {
        time,
        in_flight: AtomicUsize::new(0),
        peak: AtomicUsize::new(0),
    };
    let config = FindConfig {
        concurrency: case.concurrency,
        deadline_millis: WallClock.now_millis() + 15 * 60 * 1000,
        poll_budget_millis: 0,
    };
    let start = Instant::now();
    let answer = ops::find(&store, &dispatch, &WallClock, &config)
        .await
        .map_err(|e| format!("find: {e}"))?;
    let wall = start.elapsed();
    let rounds = u32::try_from(case.executions.div_ceil(case.concurrency)).unwrap_or(u32::MAX);
    let ideal = case.poll * rounds;
    Ok(Outcome {
        wall,
        ideal,
        ratio: wall.as_secs_f64() / ideal.as_secs_f64(),
        polled: answer.executions_polled,
        peak_concurrency: dispatch.peak.load(Ordering::SeqCst),
        mean_concurrency: busy.as_secs_f64() / wall.as_secs_f64(),
    })
}

pub async fn run(cases: &[Case]) -> Result<Report, String> {
    let mut report = Report::new(
        "fanout",
        "4. find fan-out",
        &[
            "N",
            "C",
            "P",
            "polled",
            "in flight (peak / mean)",
            "wall s",
            "ceil(N/C)·P s",
            "ratio",
            "target",
            "verdict",
        ],
    );
    let mut data = Vec::new();
    for case in cases {
        let o = measure(*case).await?;
        let mut met = o.ratio <= TARGET_RATIO && o.polled == case.executions;
        let mut target = format!("≤ {TARGET_RATIO}");
        if case.executions == 1000 && case.poll == Duration::from_millis(200) {
            met &= o.wall <= TICK;
            target.push_str(", < 60 s");
        }
        let p = if case.jitter {
            format!(
                "{}–{} ms",
                case.poll.as_millis() / 2,
                case.poll.as_millis() * 3 / 2
            )
        } else {
            format!("{} ms", case.poll.as_millis())
        };
        report.row(vec![
            case.executions.to_string(),
            case.concurrency.to_string(),
            p,
            o.polled.to_string(),
            format!("{} / {:.1}", o.peak_concurrency, o.mean_concurrency),
            format!("{:.2}", o.wall.as_secs_f64()),
            format!("{:.2}", o.ideal.as_secs_f64()),
            format!("{:.2}", o.ratio),
            target,
            verdict(met),
        ]);
        data.push(json!({"case": case, "outcome": o, "met": met}));
    }
    report.note(
        "`ops::find` over a MemoryStore (pages of 100, no latency) with a dispatch that sleeps P per \
         poll. With jitter, P is spread evenly over P/2..3P/2 (mean P) and the ideal is still \
         ceil(N/C)·P: those rows show whether a slow poll holds back the start of later ones (it \
         did while find used an ordered `buffered(C)`). The C = 1 twin of 1000 × 200 ms is not run: it takes 1000 × 0.2 = 200 s by \
         construction (find polls one at a time), past the one-minute tick.",
    );
    report.data = json!(data);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn find_polls_every_execution_and_never_more_than_c_at_once() {
        let case = Case {
            executions: 40,
            concurrency: 4,
            poll: Duration::from_millis(2),
            jitter: true,
        };
        let o = measure(case).await.unwrap();
        assert_eq!(o.polled, 40);
        assert_eq!(o.peak_concurrency, 4);
        assert_eq!(o.ideal, Duration::from_millis(20));
    }
}
