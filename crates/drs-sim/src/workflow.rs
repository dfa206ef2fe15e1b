//! Step Functions task tokens, simulated: the workflow side of pause and resume.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use execution_core::api::WorkflowInput;
use execution_core::ids::TaskToken;
use execution_core::ports::{RunRef, RunState, Workflow, WorkflowError};
use serde::{Deserialize, Serialize};

use crate::calls::{Api, Calls};
use crate::lock;

/// Where a task stands: waiting for its token, or no longer (completed with SendTaskSuccess, or
/// failed: timed out, its run ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TokenState {
    Waiting,
    Succeeded,
    Failed,
}

#[derive(Debug)]
pub struct SimWorkflow {
    calls: Arc<Calls>,
    tokens: Mutex<BTreeMap<String, TokenState>>,
    issued: AtomicU64,
    /// Workflow runs by id: their name, input and state (a restart starts one).
    runs: Mutex<BTreeMap<String, SimRun>>,
}

/// One simulated workflow run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRun {
    pub name: String,
    pub input: WorkflowInput,
    pub state: RunState,
}

/// The id the simulator gives the run named `name`.
pub fn sim_run_id(name: &str) -> String {
    format!("arn:sim:states:execution:drs-execution:{name}")
}

impl SimWorkflow {
    pub fn new(calls: Arc<Calls>, tokens: BTreeMap<String, TokenState>) -> Self {
        Self {
            calls,
            tokens: Mutex::new(tokens),
            issued: AtomicU64::new(0),
            runs: Mutex::default(),
        }
    }

    /// Sets where the run `id` stands (a test ends a run), adding it if unknown.
    pub fn set_run(&self, id: &str, run: SimRun) {
        lock(&self.runs).insert(id.to_owned(), run);
    }

    /// Every run, by id.
    pub fn runs(&self) -> BTreeMap<String, SimRun> {
        lock(&self.runs).clone()
    }

    /// A fresh token for a task that now waits (what `waitForTaskToken` hands the pause function).
    pub fn issue_token(&self) -> TaskToken {
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let mut tokens = lock(&self.tokens);
        let raw = (n..)
            .map(|k| format!("sim-task-token-{k}"))
            .find(|t| !tokens.contains_key(t))
            .unwrap_or_default();
        tokens.insert(raw.clone(), TokenState::Waiting);
        TaskToken::parse(&raw).unwrap_or_else(|e| unreachable!("{e}"))
    }

    pub fn state(&self, token: &TaskToken) -> Option<TokenState> {
        lock(&self.tokens).get(token.expose()).copied()
    }

    pub fn tokens(&self) -> BTreeMap<String, TokenState> {
        lock(&self.tokens).clone()
    }

    async fn complete(
        &self,
        api: Api,
        token: &TaskToken,
        to: TokenState,
    ) -> Result<(), WorkflowError> {
        self.calls.enter(api).await?;
        let mut tokens = lock(&self.tokens);
        match tokens.get_mut(token.expose()) {
            None => Err(WorkflowError::InvalidToken),
            Some(state) if *state != TokenState::Waiting => Err(WorkflowError::TaskTimedOut),
            Some(state) => {
                *state = to;
                Ok(())
            }
        }
    }
}

#[async_trait]
impl Workflow for SimWorkflow {
    async fn send_task_success(
        &self,
        token: &TaskToken,
        _output: &serde_json::Value,
    ) -> Result<(), WorkflowError> {
        self.complete(Api::SendTaskSuccess, token, TokenState::Succeeded)
            .await
    }

    /// A run the simulator was not told about ([`SimWorkflow::set_run`]) is running: the
    /// driver conducts the executions, and a test ends a run to see it healed.
    async fn run_state(&self, run: &RunRef) -> Result<RunState, WorkflowError> {
        let id = match run {
            RunRef::Id(id) => id.clone(),
            RunRef::FirstOf(execution) => sim_run_id(&execution.to_string()),
            RunRef::Named(name) => sim_run_id(name),
        };
        Ok(lock(&self.runs)
            .get(&id)
            .map_or(RunState::Running, |r| r.state.clone()))
    }

    async fn start_run(&self, input: &WorkflowInput, name: &str) -> Result<String, WorkflowError> {
        let id = sim_run_id(name);
        let mut runs = lock(&self.runs);
        if runs.contains_key(&id) {
            return Ok(id); // started by someone else: names are never reused
        }
        runs.insert(
            id.clone(),
            SimRun {
                name: name.to_owned(),
                input: input.clone(),
                state: RunState::Running,
            },
        );
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_token_completes_once() {
        let wf = SimWorkflow::new(Arc::default(), BTreeMap::new());
        let t = wf.issue_token();
        assert_eq!(wf.state(&t), Some(TokenState::Waiting));
        wf.send_task_success(&t, &serde_json::json!({}))
            .await
            .unwrap();
        assert_eq!(wf.state(&t), Some(TokenState::Succeeded));
        assert_eq!(
            wf.send_task_success(&t, &serde_json::json!({})).await,
            Err(WorkflowError::TaskTimedOut)
        );
        let unknown = TaskToken::parse("never-issued").unwrap();
        assert_eq!(
            wf.send_task_success(&unknown, &serde_json::json!({})).await,
            Err(WorkflowError::InvalidToken)
        );
        let other = wf.issue_token();
        assert_ne!(other, t);
    }

    #[tokio::test]
    async fn loaded_tokens_are_honoured_and_never_reissued() {
        let loaded = BTreeMap::from([
            ("sim-task-token-1".to_owned(), TokenState::Succeeded),
            ("tok-b".to_owned(), TokenState::Waiting),
        ]);
        let wf = SimWorkflow::new(Arc::default(), loaded);
        assert_ne!(wf.issue_token().expose(), "sim-task-token-1");
        wf.send_task_success(&TaskToken::parse("tok-b").unwrap(), &serde_json::json!({}))
            .await
            .unwrap();
        assert_eq!(wf.tokens()["tok-b"], TokenState::Succeeded);
    }

    #[tokio::test]
    async fn workflow_calls_are_counted_and_can_fail() {
        let calls = Arc::new(Calls::default());
        let wf = SimWorkflow::new(calls.clone(), BTreeMap::new());
        let t = wf.issue_token();
        calls.fail_with_5xx(Api::SendTaskSuccess, 1);
        assert!(matches!(
            wf.send_task_success(&t, &serde_json::json!({})).await,
            Err(WorkflowError::Service(_))
        ));
        assert_eq!(
            wf.state(&t),
            Some(TokenState::Waiting),
            "a failed call completes nothing"
        );
        wf.send_task_success(&t, &serde_json::json!({}))
            .await
            .unwrap();
        assert_eq!(calls.count(Api::SendTaskSuccess), 2);
    }
}
