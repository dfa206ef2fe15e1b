//! Racing writers on the real store: one wins, the loser gets `Conflict` and writes nothing.

use std::sync::Arc;

use aws_adapters::DynamoDbStore;
use execution_core::ports::{Commit, ExecutionStore, StoreError};
use execution_core::status::{ExecutionStatus, WaveStatus};
use tokio::sync::Barrier;

use crate::dynamodb::{apply, execution, header_put, wave_write, Table};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_wave_writes_one_wins_the_other_conflicts() {
    let table = Table::new().await;
    let store = Arc::new(table.store());
    let exec = execution(&[3, 3]);
    store.create(&exec, &[]).await.unwrap();
    for round in 0..5 {
        let current = store.load(exec.id()).await.unwrap().unwrap();
        let old = current.waves[0].clone();
        let commits: Vec<Commit> = ["A", "B"]
            .iter()
            .map(|who| {
                let mut new = old.clone();
                new.status_message = Some(format!("{who}{round}"));
                Commit {
                    execution_id: exec.id(),
                    header: None,
                    waves: vec![wave_write(&old, new)],
                    events: vec![],
                }
            })
            .collect();
        let results = race(&store, commits.clone()).await;
        let winner = assert_one_winner(&results);
        let stored = store.load(exec.id()).await.unwrap().unwrap();
        assert_eq!(
            stored.waves[0], commits[winner].waves[0].wave,
            "round {round}: the winner's write stands"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_finalizes_write_once_and_the_loser_writes_nothing() {
    let table = Table::new().await;
    let store = Arc::new(table.store());
    let exec = execution(&[1, 1, 1]);
    store.create(&exec, &[]).await.unwrap();
    // Each finalizer also writes a different wave, to show the loser's transaction left no trace.
    let commits: Vec<Commit> = [
        (ExecutionStatus::Completed, 1usize),
        (ExecutionStatus::Failed, 2usize),
    ]
    .into_iter()
    .map(|(status, wave)| {
        let mut cancelled = exec.waves[wave].clone();
        cancelled.status = WaveStatus::Cancelled;
        Commit {
            execution_id: exec.id(),
            header: Some(header_put(&exec, |h| h.status = status)),
            waves: vec![wave_write(&exec.waves[wave], cancelled)],
            events: vec![],
        }
    })
    .collect();
    let results = race(&store, commits.clone()).await;
    let winner = assert_one_winner(&results);
    let mut expected = exec.clone();
    apply(&mut expected, &commits[winner]);
    assert_eq!(store.load(exec.id()).await.unwrap(), Some(expected));
}

/// Runs every commit at once (released together by a barrier) on its own task.
async fn race(store: &Arc<DynamoDbStore>, commits: Vec<Commit>) -> Vec<Result<(), StoreError>> {
    let barrier = Arc::new(Barrier::new(commits.len()));
    let tasks: Vec<_> = commits
        .into_iter()
        .map(|c| {
            let (store, barrier) = (Arc::clone(store), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                store.commit(&c).await
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    results
}

fn assert_one_winner(results: &[Result<(), StoreError>]) -> usize {
    let winners: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one writer wins: {results:?}");
    assert!(
        results
            .iter()
            .filter(|r| r.is_err())
            .all(|r| *r == Err(StoreError::Conflict)),
        "{results:?}"
    );
    winners[0]
}
