//! Racing starts against a real DynamoDB protocol (the moto server), with the simulator as DRS
//! and Step Functions: in each round six starts of plans over one pool of twelve source servers
//! run at once, every one through `ops::run` as the start function runs it, each plan sharing
//! servers with others. Whatever the interleaving:
//! - no server is held by two executions, and no two started executions share a server;
//! - a refused start is a 409 `PREFLIGHT_FAILED` naming the servers it wanted that another
//!   execution holds, and that execution; it created nothing, held nothing, launched nothing;
//! - once the started executions have ended (cancelled and finalized), the next round's starts
//!   take their servers over: an execution that ended holds nothing;
//! - of two starts of large plans (several hold transactions each) that overlap, exactly one
//!   starts: the transactions go out one after another in server order.

use std::collections::{BTreeSet, HashMap};

use aws_adapters::{create_table, DynamoDbStore};
use drs_sim::{Sim, SimConfig};
use execution_core::api::{Request, StartRequest, Target};
use execution_core::audit::Actor;
use execution_core::fixtures;
use execution_core::ids::{ExecutionId, SourceServerId};
use execution_core::ops::{self, Ports};
use execution_core::plan::{Plan, PlanServer, PlanWave};
use execution_core::ports::{ExecutionStore, ServerLocks};
use execution_core::status::ExecutionStatus;
use futures::future::join_all;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use workspace_tests::moto;

const INDEX: &str = aws_adapters::DEFAULT_STATUS_INDEX;
const POOL: usize = 12;
const STARTS: usize = 6;
const ROUNDS: u64 = 8;

/// A plan of 4 servers of the pool, in two waves.
fn plan(rng: &mut ChaCha8Rng, n: usize) -> Plan {
    let mut pool: Vec<usize> = (0..POOL).collect();
    pool.shuffle(rng);
    let servers: Vec<PlanServer> = pool[..4]
        .iter()
        .map(|i| PlanServer {
            source_server_id: fixtures::server(*i),
            server_name: Some(format!("srv-{i}")),
            impact: Default::default(),
        })
        .collect();
    let mut p = fixtures::plan(&[1]);
    p.plan_id = execution_core::ids::PlanId::from_uuid(uuid::Uuid::from_u128(
        0x7000_0000_0000_4000_8000_0000_0000_0000 + n as u128,
    ));
    p.plan_name = Some(format!("racing plan {n}"));
    p.waves = servers
        .chunks(2)
        .map(|chunk| PlanWave {
            wave_name: None,
            pause_before_wave: false,
            timeout_seconds: None,
            on_failure: None,
            target_rto_seconds: None,
            actions: Vec::new(),
            servers: chunk.to_vec(),
        })
        .collect();
    p
}

fn servers_of(plan: &Plan) -> BTreeSet<SourceServerId> {
    plan.waves
        .iter()
        .flat_map(|w| &w.servers)
        .map(|s| s.source_server_id.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_starts_never_hold_one_server_twice_and_an_ended_execution_holds_nothing() {
    let client = moto::dynamodb_client();
    let table = format!("holds-{}", uuid::Uuid::new_v4().simple());
    create_table(&client, &table, INDEX)
        .await
        .expect("create the table in moto");
    let store = DynamoDbStore::new(client.clone(), table.clone(), INDEX.into());
    let sim = Sim::new(SimConfig::default());
    let ports = Ports::new(&store, sim.clock.as_ref(), &sim.policy)
        .with_drs(&sim.drs)
        .with_ec2(&sim.ec2)
        .with_workflow(sim.workflow.as_ref())
        .with_locks(&store);
    let pool: Vec<SourceServerId> = (0..POOL).map(fixtures::server).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(0x401D);
    let mut refused_total = 0;
    let mut started_total = 0;
    for round in 0..ROUNDS {
        let starts: Vec<(ExecutionId, Plan)> = (0..STARTS)
            .map(|n| {
                let id = ExecutionId::from_uuid(uuid::Uuid::from_u128(rng.random()));
                (id, plan(&mut rng, n))
            })
            .collect();
        let answers: Vec<Value> = join_all(starts.iter().map(|(id, plan)| {
            let request = Request::Start(StartRequest {
                plan: Box::new(plan.clone()),
                execution_id: Some(*id),
                poll_interval_seconds: None,
            });
            ops::run(&ports, request, Actor::Cli("racer".into()))
        }))
        .await;

        let mut started: HashMap<ExecutionId, BTreeSet<SourceServerId>> = HashMap::new();
        let mut refused: Vec<(ExecutionId, &Value, BTreeSet<SourceServerId>)> = Vec::new();
        for ((id, plan), answer) in starts.iter().zip(&answers) {
            match answer["statusCode"].as_u64() {
                Some(200) => {
                    started.insert(*id, servers_of(plan));
                }
                Some(409) if answer["error"] == "PREFLIGHT_FAILED" => {
                    refused.push((*id, answer, servers_of(plan)));
                }
                _ => panic!("round {round}: start answered {answer}"),
            }
        }
        assert!(!started.is_empty(), "round {round}: someone starts");
        started_total += started.len();
        refused_total += refused.len();

        // No two started executions share a server, and each holds all of its own.
        let mut owner: HashMap<SourceServerId, ExecutionId> = HashMap::new();
        for (id, servers) in &started {
            for s in servers {
                if let Some(other) = owner.insert(s.clone(), *id) {
                    panic!("round {round}: {s} started by {id} and {other}");
                }
            }
        }
        let holds = store.holds(&pool).await.expect("the holds");
        for hold in &holds {
            if let Some(id) = owner.get(&hold.source_server_id) {
                assert_eq!(
                    hold.execution_id, *id,
                    "round {round}: {} held by another than its starter",
                    hold.source_server_id
                );
            }
            assert!(
                !refused.iter().any(|(id, _, _)| *id == hold.execution_id),
                "round {round}: a refused start holds {}",
                hold.source_server_id
            );
        }
        for (id, servers) in &started {
            let held: BTreeSet<_> = holds
                .iter()
                .filter(|h| h.execution_id == *id)
                .map(|h| h.source_server_id.clone())
                .collect();
            assert_eq!(
                &held, servers,
                "round {round}: {id} holds all of its servers"
            );
        }

        // A refusal names servers it wanted that a started execution holds, and that execution;
        // it created nothing and launched nothing.
        for (id, answer, wanted) in &refused {
            let problems = answer["problems"].as_array().expect("problems");
            assert!(!problems.is_empty(), "{answer}");
            for p in problems {
                assert_eq!(p["problem"], "HELD_BY_EXECUTION", "{answer}");
                let holder: ExecutionId =
                    serde_json::from_value(p["executionId"].clone()).expect("the holder's id");
                let named: BTreeSet<SourceServerId> =
                    serde_json::from_value(p["sourceServerIds"].clone()).expect("servers");
                let held = started
                    .get(&holder)
                    .unwrap_or_else(|| panic!("round {round}: {holder} named but not started"));
                assert!(
                    named.is_subset(wanted) && named.is_subset(held),
                    "round {round}: {named:?} of {wanted:?} held by {held:?}"
                );
            }
            assert!(
                store.load(*id).await.expect("load").is_none(),
                "round {round}: a refused start created {id}"
            );
        }
        assert!(
            sim.drs.0.jobs().is_empty(),
            "a start launches nothing (launch does)"
        );

        // End the started ones: the next round takes their servers over.
        for id in started.keys() {
            let plan_id = starts
                .iter()
                .find(|(s, _)| s == id)
                .map(|(_, p)| p.plan_id)
                .expect("its plan");
            let target = Target {
                execution_id: *id,
                plan_id,
            };
            for request in [Request::Cancel(target), Request::Finalize(target)] {
                let answer = ops::run(&ports, request, Actor::Cli("operator".into())).await;
                assert_eq!(answer["statusCode"], 200, "{answer}");
            }
            let ended = store.load(*id).await.expect("load").expect("the record");
            assert_eq!(ended.status(), ExecutionStatus::Cancelled);
        }
    }
    assert!(
        refused_total > 0 && started_total > ROUNDS as usize,
        "the races happened: {started_total} started, {refused_total} refused"
    );
    let _ = client.delete_table().table_name(&table).send().await;
}

/// Two starts of large plans (250 servers: three hold transactions each) that overlap in part:
/// the holds go out one transaction after another in server order, so of the two exactly one
/// starts, and the other, refused, holds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_large_starts_that_overlap_exactly_one_starts() {
    let client = moto::dynamodb_client();
    let table = format!("holds-large-{}", uuid::Uuid::new_v4().simple());
    create_table(&client, &table, INDEX)
        .await
        .expect("create the table in moto");
    let store = DynamoDbStore::new(client.clone(), table.clone(), INDEX.into());
    let sim = Sim::new(SimConfig::default());
    let ports = Ports::new(&store, sim.clock.as_ref(), &sim.policy)
        .with_drs(&sim.drs)
        .with_workflow(sim.workflow.as_ref())
        .with_locks(&store);
    let large = |first: usize, n: usize| {
        let mut p = fixtures::plan(&[250]);
        p.plan_id = execution_core::ids::PlanId::from_uuid(uuid::Uuid::from_u128(
            0x7100_0000_0000_4000_8000_0000_0000_0000 + n as u128,
        ));
        for (i, s) in p.waves[0].servers.iter_mut().enumerate() {
            s.source_server_id = fixtures::server(first + i);
        }
        p
    };
    for round in 0..4usize {
        // Round r: the second plan starts 60·(r+1) servers in, so the overlap varies.
        let base = round * 1000;
        let plans = [
            large(base, 2 * round),
            large(base + 60 * (round + 1), 2 * round + 1),
        ];
        let ids: Vec<ExecutionId> = (0..2)
            .map(|k| ExecutionId::from_uuid(uuid::Uuid::from_u128((round * 10 + k + 1) as u128)))
            .collect();
        let answers: Vec<Value> = join_all(plans.iter().zip(&ids).map(|(plan, id)| {
            ops::run(
                &ports,
                Request::Start(StartRequest {
                    plan: Box::new(plan.clone()),
                    execution_id: Some(*id),
                    poll_interval_seconds: None,
                }),
                Actor::Cli("racer".into()),
            )
        }))
        .await;
        let won: Vec<usize> = (0..2)
            .filter(|k| answers[*k]["statusCode"] == 200)
            .collect();
        assert_eq!(won.len(), 1, "round {round}: {answers:?}");
        let (winner, loser) = (ids[won[0]], ids[1 - won[0]]);
        assert_eq!(answers[1 - won[0]]["error"], "PREFLIGHT_FAILED");
        let servers: Vec<SourceServerId> = plans
            .iter()
            .flat_map(servers_of)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let holds = store.holds(&servers).await.expect("the holds");
        assert!(
            holds.iter().all(|h| h.execution_id == winner),
            "round {round}"
        );
        assert_eq!(
            holds.len(),
            250,
            "round {round}: the winner holds all of its servers"
        );
        assert!(store.load(loser).await.expect("load").is_none());
    }
    let _ = client.delete_table().table_name(&table).send().await;
}
