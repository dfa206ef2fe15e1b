use execution_core::fixtures;
use execution_core::ids::ExecutionId;
use execution_core::model::{Execution, Timestamp};
use execution_core::ports::{Commit, ExecutionStore, HeaderWrite, StoreError, WaveWrite};
use execution_core::status::{ExecutionStatus, WaveStatus};

use super::*;

fn execution_with(status: ExecutionStatus) -> Execution {
    let mut e = fixtures::plan(&[1, 2])
        .new_execution(ExecutionId::new_random(), Timestamp(1000))
        .unwrap();
    e.header.status = status;
    e
}

fn wave_write(e: &Execution, n: usize, expected_version: u64, status: WaveStatus) -> WaveWrite {
    let mut wave = e.waves[n].clone();
    wave.status = status;
    wave.version = expected_version + 1;
    WaveWrite {
        expected_version,
        wave,
    }
}

/// The store contract every `ExecutionStore` keeps (the DynamoDB adapter runs it against moto).
#[tokio::test]
async fn the_store_contract_holds() {
    execution_core::store_contract::run_all(|| async { MemoryStore::with_page_size(2) }).await;
}

#[tokio::test]
async fn calls_are_counted() {
    let store = MemoryStore::with_page_size(2);
    let e = execution_with(ExecutionStatus::Polling);
    store.create(&e, &[]).await.unwrap();
    let mut header = e.header.clone();
    header.status = ExecutionStatus::Paused;
    header.version = 1;
    let good = Commit {
        execution_id: e.id(),
        header: Some(HeaderWrite {
            expected_version: 0,
            header,
        }),
        waves: vec![wave_write(&e, 0, 0, WaveStatus::Launching)],
        events: vec![],
    };
    store.commit(&good).await.unwrap();
    assert_eq!(store.commit(&good).await, Err(StoreError::Conflict));
    store.list_active(None).await.unwrap();
    let counts = store.counts();
    assert_eq!(
        (
            counts.commits,
            counts.conflicts,
            counts.header_writes,
            counts.wave_writes,
            counts.list_active_pages
        ),
        (2, 1, 1, 1, 1)
    );
}

#[test]
fn with_executions_refuses_duplicates_and_keeps_order() {
    let a = execution_with(ExecutionStatus::Polling);
    let b = execution_with(ExecutionStatus::Paused);
    let store = MemoryStore::with_executions(vec![b.clone(), a.clone()]).unwrap();
    assert_eq!(store.executions(), vec![b.clone(), a]);
    assert_eq!(
        MemoryStore::with_executions(vec![b.clone(), b.clone()]).unwrap_err(),
        b.id()
    );
}

#[tokio::test]
async fn calls_can_be_given_a_fixed_latency() {
    let store = MemoryStore::default();
    store.set_latency(Some(std::time::Duration::from_millis(20)));
    let wall = std::time::Instant::now();
    store.load(ExecutionId::new_random()).await.unwrap();
    assert!(wall.elapsed() >= std::time::Duration::from_millis(20));
    store.set_latency(None);
    assert_eq!(store.counts().loads, 1);
}

fn hold(server: usize, execution: ExecutionId, since: i64) -> execution_core::ports::ServerHold {
    execution_core::ports::ServerHold {
        source_server_id: fixtures::server(server),
        execution_id: execution,
        since: Timestamp(since),
    }
}

fn claim(
    server: usize,
    execution: ExecutionId,
    replaces: Option<ExecutionId>,
) -> execution_core::ports::HoldClaim {
    execution_core::ports::HoldClaim {
        hold: hold(server, execution, 2000),
        replaces,
    }
}

#[tokio::test]
async fn holds_are_taken_all_or_nothing_and_released_only_by_their_holder() {
    use execution_core::ports::ServerLocks;
    let store = MemoryStore::default();
    let (a, b) = (ExecutionId::new_random(), ExecutionId::new_random());
    let servers: Vec<_> = (0..4).map(fixtures::server).collect();
    assert_eq!(store.holds(&servers).await.unwrap(), []);

    store
        .hold(&[claim(0, a, None), claim(1, a, None)])
        .await
        .unwrap();
    assert_eq!(
        store.holds(&servers).await.unwrap(),
        [hold(0, a, 2000), hold(1, a, 2000)]
    );
    // b wants server 1 (a's) and 2 (free): refused, and 2 stays free.
    assert_eq!(
        store.hold(&[claim(2, b, None), claim(1, b, None)]).await,
        Err(StoreError::Conflict)
    );
    assert_eq!(store.holds(&servers[2..]).await.unwrap(), []);
    // Replacing an execution that does not hold it is no licence either.
    let c = ExecutionId::new_random();
    assert_eq!(
        store.hold(&[claim(1, b, Some(c))]).await,
        Err(StoreError::Conflict)
    );
    // A retried start takes its own holds again.
    store.hold(&[claim(0, a, None)]).await.unwrap();
    // b takes over a's hold on server 1 once it found a ended.
    store.hold(&[claim(1, b, Some(a))]).await.unwrap();
    assert_eq!(
        store
            .holds(&[servers[1].clone(), servers[0].clone(), servers[1].clone()])
            .await
            .unwrap(),
        [hold(1, b, 2000), hold(0, a, 2000)],
        "in the order asked, each once"
    );
    // a gives back what it holds; b's hold and a missing one are left as they are.
    store.release(a, &servers).await.unwrap();
    assert_eq!(store.holds(&servers).await.unwrap(), [hold(1, b, 2000)]);
    store.release(a, &servers).await.unwrap();
    assert_eq!(store.all_holds(), [hold(1, b, 2000)]);

    let many: Vec<_> = (0..=MAX_COMMIT_ITEMS).map(|n| claim(n, a, None)).collect();
    assert!(matches!(
        store.hold(&many).await,
        Err(StoreError::Service(ServiceError::Rejected(_)))
    ));
    assert!(matches!(
        store.hold(&[claim(5, a, None), claim(5, a, None)]).await,
        Err(StoreError::Service(ServiceError::Rejected(_)))
    ));
    assert!(
        store.hold(&many[..MAX_COMMIT_ITEMS]).await.is_err(),
        "server 1 is b's"
    );
    assert_eq!(store.all_holds().len(), 1, "refused holds wrote nothing");
    let counts = store.counts();
    assert_eq!((counts.hold_reads, counts.hold_writes), (5, 10));
}

#[test]
fn set_holds_replaces_every_hold() {
    let store = MemoryStore::default();
    let a = ExecutionId::new_random();
    store.set_holds(vec![hold(3, a, 10), hold(1, a, 11)]);
    assert_eq!(store.all_holds(), [hold(1, a, 11), hold(3, a, 10)]);
    store.set_holds(vec![]);
    assert_eq!(store.all_holds(), []);
}

/// The invariants of `execution_core::invariants` against every record the operations write, in
/// every drill the simulator plays (as the driver tests do): checked after each create, commit
/// and touch, so a rule that raised a false alarm on any step would show here.
mod invariants_hold {
    use std::collections::{HashMap, HashSet};

    use execution_core::api::{Request, Target, WaveTarget};
    use execution_core::fixtures;
    use execution_core::ids::ExecutionId;
    use execution_core::invariants::{self, Violation};
    use execution_core::model::{FailurePolicy, Impact};
    use execution_core::ops;
    use execution_core::plan::Plan;
    use execution_core::ports::{Commit, ExecutionStore, HeaderWrite};
    use execution_core::rules::Policy;
    use execution_core::status::ExecutionStatus;

    use crate::driver::{drive, DriverConfig, OnFailure};
    use crate::{Api, FaultScript, Refusals, Sim, SimConfig};

    fn three_tier() -> Plan {
        let mut plan = fixtures::plan(&[2, 3, 2]);
        plan.waves[1].pause_before_wave = true;
        plan
    }

    fn pausing(mut plan: Plan) -> Plan {
        plan.on_wave_failure = Some(FailurePolicy::Pause);
        plan
    }

    fn checked_sim(faults: FaultScript, policy: Policy) -> Sim {
        let sim = Sim::new(SimConfig {
            faults,
            policy,
            ..SimConfig::default()
        });
        sim.store.check_invariants();
        sim
    }

    async fn create(sim: &Sim, plan: &Plan) -> Target {
        sim.create(plan, ExecutionId::new_random()).await.unwrap()
    }

    fn assert_sound(sim: &Sim, what: &str) {
        assert_eq!(sim.store.violations(), [], "{what}");
        for e in sim.store.executions() {
            assert_eq!(invariants::check(&e), [], "{what}: the record as it ends");
        }
    }

    /// One drill of the driver tests: the plan, the faults, what the operator decides.
    struct Drill {
        name: &'static str,
        plan: Plan,
        faults: FaultScript,
        on_failure: OnFailure,
        policy: Policy,
        script: fn(&Sim),
    }

    fn drill(name: &'static str, plan: Plan, faults: FaultScript) -> Drill {
        Drill {
            name,
            plan,
            faults,
            on_failure: OnFailure::Stop,
            policy: Policy::default(),
            script: |_| {},
        }
    }

    fn drills() -> Vec<Drill> {
        let servers = |ns: &[usize]| ns.iter().map(|n| fixtures::server(*n)).collect();
        let mut optional = three_tier();
        optional.waves[1].servers[1].impact = Impact::Optional;
        let mut short = fixtures::plan(&[2]);
        short.wave_timeout_seconds = Some(600);
        vec![
            drill("a three-tier drill", three_tier(), FaultScript::default()),
            drill(
                "a server that fails",
                three_tier(),
                FaultScript {
                    failing_servers: servers(&[3]),
                    ..FaultScript::default()
                },
            ),
            Drill {
                script: |sim| {
                    sim.calls.throttle(
                        Api::DescribeJobs,
                        3,
                        Some(std::time::Duration::from_secs(2)),
                    );
                    sim.calls.throttle(Api::StartRecovery, 2, None);
                },
                ..drill("throttling", three_tier(), FaultScript::default())
            },
            Drill {
                script: |sim| sim.calls.fail_with_5xx(Api::StartRecovery, 1),
                ..drill(
                    "a lost StartRecovery answer",
                    three_tier(),
                    FaultScript::default(),
                )
            },
            drill(
                "a job missing within the grace period",
                three_tier(),
                FaultScript {
                    job_missing_polls: 4,
                    ..FaultScript::default()
                },
            ),
            drill(
                "a job missing past the grace period",
                three_tier(),
                FaultScript {
                    job_missing_polls: 20,
                    ..FaultScript::default()
                },
            ),
            drill(
                "instances EC2 does not know yet",
                three_tier(),
                FaultScript {
                    ec2_unknown_polls: 2,
                    omit_recovery_instance_ids: true,
                    ..FaultScript::default()
                },
            ),
            drill(
                "a wave of 250 servers",
                fixtures::plan(&[250, 2]),
                FaultScript::default(),
            ),
            Drill {
                policy: Policy::with_limits(Some(40), None).unwrap(),
                ..drill("jobs of 40", fixtures::plan(&[100]), FaultScript::default())
            },
            drill(
                "quota and conflict refusals",
                three_tier(),
                FaultScript {
                    quota_refusals: Refusals::new(2, None),
                    conflict_refusals: Refusals::new(1, Some(15)),
                    ..FaultScript::default()
                },
            ),
            drill(
                "a quota that never clears",
                short,
                FaultScript {
                    quota_refusals: Refusals::new(1000, None),
                    ..FaultScript::default()
                },
            ),
            drill(
                "a job over the per-job quota",
                fixtures::plan(&[60]),
                FaultScript {
                    job_server_quota: Some(50),
                    ..FaultScript::default()
                },
            ),
            Drill {
                on_failure: OnFailure::Retry,
                ..drill(
                    "a retry that succeeds",
                    pausing(three_tier()),
                    FaultScript {
                        flaky_servers: HashMap::from([(fixtures::server(3), 1)]),
                        ..FaultScript::default()
                    },
                )
            },
            Drill {
                on_failure: OnFailure::Retry,
                ..drill(
                    "retries until none is left",
                    pausing(fixtures::plan(&[2, 1])),
                    FaultScript {
                        failing_servers: servers(&[1]),
                        ..FaultScript::default()
                    },
                )
            },
            Drill {
                on_failure: OnFailure::Skip,
                ..drill(
                    "a skipped wave",
                    pausing(three_tier()),
                    FaultScript {
                        failing_servers: servers(&[0]),
                        ..FaultScript::default()
                    },
                )
            },
            drill(
                "a failed wave that pauses, then a cancel",
                pausing(three_tier()),
                FaultScript {
                    failing_servers: servers(&[3]),
                    ..FaultScript::default()
                },
            ),
            drill(
                "an optional server that fails",
                optional,
                FaultScript {
                    failing_servers: servers(&[3]),
                    ..FaultScript::default()
                },
            ),
            drill(
                "a server its job omits",
                three_tier(),
                FaultScript {
                    omitted_servers: servers(&[4]),
                    ..FaultScript::default()
                },
            ),
            Drill {
                script: |sim| {
                    sim.calls.fail_with_5xx(Api::StartRecovery, 1000);
                    sim.calls.fail_with_5xx(Api::FindTaggedJob, 1000);
                },
                ..drill(
                    "a launch that keeps failing",
                    three_tier(),
                    FaultScript::default(),
                )
            },
        ]
    }

    #[tokio::test]
    async fn in_every_drill_after_every_write() {
        for d in drills() {
            let sim = checked_sim(d.faults, d.policy);
            (d.script)(&sim);
            let target = create(&sim, &d.plan).await;
            let config = DriverConfig {
                on_failure: d.on_failure,
                ..DriverConfig::default()
            };
            // Some drills end with the driver giving up: the records must hold all the same.
            let _ = drive(&sim, target, config, &mut ()).await;
            assert!(
                sim.store.counts().commits > 1,
                "{}: the drill wrote",
                d.name
            );
            assert_sound(&sim, d.name);
        }
    }

    /// An operator's pause and cancel in the middle of a wave, a cancel before any launch, two
    /// launchers racing, and a second execution at the same time: the records hold at every step.
    #[tokio::test]
    async fn when_operators_and_launchers_interleave() {
        let sim = checked_sim(FaultScript::default(), Policy::default());
        let run = |r: Request| {
            let sim = sim.clone();
            async move { ops::run(&sim.ports(), r, execution_core::audit::Actor::Workflow).await }
        };
        let a = create(&sim, &three_tier()).await;
        let b = create(&sim, &fixtures::plan(&[1])).await;
        let c = create(&sim, &pausing(fixtures::plan(&[1, 1]))).await;
        // Two launchers at once; one wins the claim.
        let (x, y) = tokio::join!(run(Request::Launch(a)), run(Request::Launch(a)));
        assert!(x["statusCode"] == 200 || y["statusCode"] == 200, "{x} {y}");
        run(Request::Pause(execution_core::api::PauseRequest {
            target: a,
            task_token: None,
        }))
        .await;
        run(Request::Cancel(b)).await;
        run(Request::Finalize(b)).await;
        run(Request::Launch(c)).await;
        for _ in 0..40 {
            sim.clock.advance_secs(30);
            for t in [a, c] {
                run(Request::Poll(execution_core::api::PollRequest {
                    target: t,
                    summary: false,
                    workflow_run: None,
                }))
                .await;
            }
        }
        run(Request::Cancel(a)).await;
        run(Request::Skip(WaveTarget {
            target: c,
            wave_number: 0,
        }))
        .await;
        for t in [a, c] {
            run(Request::Launch(t)).await;
            sim.clock.advance_secs(600);
            run(Request::Poll(execution_core::api::PollRequest {
                target: t,
                summary: false,
                workflow_run: None,
            }))
            .await;
            run(Request::Finalize(t)).await;
        }
        let statuses: HashSet<ExecutionStatus> =
            sim.store.executions().iter().map(|e| e.status()).collect();
        assert!(
            statuses.contains(&ExecutionStatus::Cancelled),
            "{statuses:?}"
        );
        assert_sound(&sim, "interleaved operations");
    }

    /// The check is not blind: a write that leaves an impossible record is reported.
    #[tokio::test]
    async fn a_write_that_breaks_a_rule_is_reported() {
        let sim = checked_sim(FaultScript::default(), Policy::default());
        let target = create(&sim, &fixtures::plan(&[1, 1])).await;
        let stored = sim.store.get(target.execution_id).unwrap();
        let mut header = stored.header.clone();
        header.status = ExecutionStatus::Completed;
        header.version += 1;
        sim.store
            .commit(&Commit {
                execution_id: target.execution_id,
                header: Some(HeaderWrite {
                    expected_version: stored.header.version,
                    header,
                }),
                waves: vec![],
                events: vec![],
            })
            .await
            .unwrap();
        let found: Vec<Violation> = sim.store.violations().into_iter().map(|(_, v)| v).collect();
        assert!(
            found.contains(&Violation::FinishedWithoutEndTime {
                status: ExecutionStatus::Completed
            }),
            "{found:?}"
        );
    }
}
