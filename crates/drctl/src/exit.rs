//! Exit codes (docs/cli.md) and how an error is shown.

use std::process::ExitCode;

use execution_core::api::AnswerClass;

/// What a script can tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    /// The drill's execution ended COMPLETED_WITH_ERRORS: a wave was skipped or an OPTIONAL
    /// server did not launch.
    CompletedWithErrors = 1,
    /// A bad plan, payload, file or argument (clap's usage errors use 2 as well).
    Invalid = 2,
    /// The execution ended FAILED or CANCELLED.
    Failed = 3,
    /// AWS, the store or the simulator failed, or the record kept changing (409 CONFLICT):
    /// retrying may help.
    Infrastructure = 4,
    /// Ctrl-C stopped a drill (128 + SIGINT, as a shell reports it).
    Interrupted = 130,
    /// Standard output was closed (a pipe whose reader left): 128 + SIGPIPE, as a shell reports
    /// a tool that SIGPIPE ended.
    OutputClosed = 141,
}

impl Exit {
    /// The exit code for an operation's answer, from the one classification the state machine
    /// and the drill driver follow too: done → 0; final or poll-again (the caller's to fix, or
    /// to decide again on the record as it now stands) → 2; retry-later (5xx, 409 CONFLICT) → 4.
    pub fn for_answer(answer: &serde_json::Value) -> Self {
        Self::for_class(AnswerClass::of_answer(answer))
    }

    pub fn for_class(class: AnswerClass) -> Self {
        match class {
            AnswerClass::Done => Self::Success,
            AnswerClass::Final | AnswerClass::PollAgain => Self::Invalid,
            AnswerClass::RetryLater => Self::Infrastructure,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub exit: Exit,
    pub message: String,
}

impl CliError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            exit: Exit::Invalid,
            message: message.into(),
        }
    }

    pub fn infrastructure(message: impl Into<String>) -> Self {
        Self {
            exit: Exit::Infrastructure,
            message: message.into(),
        }
    }

    /// Standard output failed: [`crate::output::failed`] has said what it could, so nothing
    /// more is printed.
    pub fn output(e: &std::io::Error) -> Self {
        Self {
            exit: crate::output::failed(e),
            message: String::new(),
        }
    }
}

/// What an AWS command answers in a build without the `aws` feature: one line, how to rebuild.
#[cfg(not(feature = "aws"))]
pub fn aws_left_out(command: &str) -> CliError {
    CliError::invalid(format!(
        "`{command}` talks to AWS, and this drctl was built without it: rebuild with the aws feature \
         (`cargo install --locked --path crates/drctl --features aws`, or `cargo run -p drctl --features aws -- {command} ...`)"
    ))
}

/// Prints `result`'s error (as JSON on stdout with `--json`, else on stderr) and gives the exit code.
pub fn finish(result: Result<Exit, CliError>, json: bool) -> ExitCode {
    match result {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(e) if e.message.is_empty() => ExitCode::from(e.exit as u8),
        Err(e) => {
            if json {
                let error = if e.exit == Exit::Invalid {
                    "INVALID_INPUT"
                } else {
                    "INFRASTRUCTURE_ERROR"
                };
                // A failure to print the failure has nothing left to tell it to.
                let _ = print_json(
                    &serde_json::json!({"error": error, "exitCode": e.exit as u8, "message": e.message}),
                );
            } else {
                eprintln!("drctl: {}", e.message);
            }
            ExitCode::from(e.exit as u8)
        }
    }
}

/// Prints `value` as JSON; a closed or full standard output ends the command as
/// [`CliError::output`] says, never a panic.
pub fn print_json(value: &impl serde::Serialize) -> Result<(), CliError> {
    crate::output::print_json(value).map_err(|e| CliError::output(&e))
}

/// Prints `text` as it is (the same for text).
#[cfg(feature = "aws")]
pub fn print(text: &str) -> Result<(), CliError> {
    crate::output::print(text).map_err(|e| CliError::output(&e))
}

#[cfg(test)]
mod tests {
    use execution_core::api::answer;
    use execution_core::error::{OperationError, Refusal};

    use super::Exit;

    fn exit_for(e: OperationError) -> Exit {
        Exit::for_answer(&answer::<()>(&Err(e)))
    }

    /// SPEC §9: the exit code follows `AnswerClass`, not the status code's hundreds.
    #[test]
    fn exit_codes_follow_the_answer_class() {
        assert_eq!(
            exit_for(OperationError::Conflict("raced".into())),
            Exit::Infrastructure,
            "409 CONFLICT: try again"
        );
        assert_eq!(
            exit_for(OperationError::TokenRejected("gone".into())),
            Exit::Invalid,
            "409 TOKEN_REJECTED: final"
        );
        assert_eq!(
            exit_for(OperationError::InvalidState(Refusal::NothingToLaunch)),
            Exit::Invalid,
            "400 INVALID_STATE: decide again on the record"
        );
        assert_eq!(
            exit_for(OperationError::NotFound("x".into())),
            Exit::Invalid
        );
        assert_eq!(
            exit_for(OperationError::Internal("503".into())),
            Exit::Infrastructure
        );
        assert_eq!(
            Exit::for_answer(&serde_json::json!({"statusCode": 200})),
            Exit::Success
        );
        assert_eq!(
            Exit::for_answer(&serde_json::json!({"nothing": true})),
            Exit::Invalid,
            "an answer without a statusCode is final"
        );
    }
}
