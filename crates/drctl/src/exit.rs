//! Exit codes (docs/cli.md) and how an error is shown.

use std::process::ExitCode;

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
    /// AWS, the store or the simulator failed; retrying may help.
    Infrastructure = 4,
}

impl Exit {
    /// The exit code for an operation's answer: 200 → 0, 4xx → 2, 5xx → 4.
    pub fn for_status_code(status_code: u16) -> Self {
        match status_code {
            200..=299 => Self::Success,
            400..=499 => Self::Invalid,
            _ => Self::Infrastructure,
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
}

/// Prints `result`'s error (as JSON on stdout with `--json`, else on stderr) and gives the exit code.
pub fn finish(result: Result<Exit, CliError>, json: bool) -> ExitCode {
    match result {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(e) => {
            if json {
                let error = if e.exit == Exit::Invalid {
                    "INVALID_INPUT"
                } else {
                    "INFRASTRUCTURE_ERROR"
                };
                print_json(
                    &serde_json::json!({"error": error, "exitCode": e.exit as u8, "message": e.message}),
                );
            } else {
                eprintln!("drctl: {}", e.message);
            }
            ExitCode::from(e.exit as u8)
        }
    }
}

pub fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("drctl: could not print the answer as JSON: {e}"),
    }
}
