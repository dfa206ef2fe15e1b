//! find's run-time configuration: its deadline (from the Lambda context) and its concurrency.

use std::time::Duration;

use execution_core::ops::FindConfig;

/// find answers this long before Lambda would stop it, so its answer is never lost.
pub const FIND_DEADLINE_MARGIN_MILLIS: i64 = 3_000;
/// A poll is not started with less than this left: a poll of a large execution takes seconds,
/// and one cut off by find's timeout is wasted work that the next tick repeats anyway.
pub const FIND_POLL_BUDGET_MILLIS: i64 = 20_000;
/// How long find waits for one poll: the budget, so that the last poll started still answers
/// before find's own deadline. A slower poll runs on; find reports it as failed.
pub const FIND_POLL_TIMEOUT: Duration = Duration::from_millis(FIND_POLL_BUDGET_MILLIS as u64);
/// The environment variable that sets how many polls find runs at once.
pub const FIND_CONCURRENCY_VAR: &str = "FIND_CONCURRENCY";

/// find's configuration for one invocation whose Lambda deadline is `lambda_deadline_millis`
/// (epoch milliseconds, `Context::deadline`).
pub fn find_config(lambda_deadline_millis: u64, concurrency: usize) -> FindConfig {
    let deadline = i64::try_from(lambda_deadline_millis).unwrap_or(i64::MAX);
    FindConfig {
        concurrency,
        deadline_millis: deadline.saturating_sub(FIND_DEADLINE_MARGIN_MILLIS),
        poll_budget_millis: FIND_POLL_BUDGET_MILLIS,
    }
}

/// `FIND_CONCURRENCY` (`raw`, unset = the default): a whole number from 1 to 256.
pub fn find_concurrency(raw: Option<&str>) -> Result<usize, String> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(FindConfig::DEFAULT_CONCURRENCY);
    };
    match raw.parse::<usize>() {
        Ok(n) if (1..=256).contains(&n) => Ok(n),
        _ => Err(format!(
            "{FIND_CONCURRENCY_VAR} must be a whole number from 1 to 256, got '{raw}'"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_keeps_a_margin() {
        let c = find_config(1_700_000_060_000, 4);
        assert_eq!(c.deadline_millis, 1_700_000_057_000);
        assert_eq!(c.concurrency, 4);
        assert_eq!(c.poll_budget_millis, FIND_POLL_BUDGET_MILLIS);
        assert_eq!(
            find_config(u64::MAX, 1).deadline_millis,
            i64::MAX - FIND_DEADLINE_MARGIN_MILLIS
        );
    }

    #[test]
    fn concurrency_defaults_and_refuses_nonsense() {
        assert_eq!(find_concurrency(None), Ok(16));
        assert_eq!(find_concurrency(Some(" ")), Ok(16));
        assert_eq!(find_concurrency(Some("32")), Ok(32));
        for bad in ["0", "-1", "many", "257"] {
            let e = find_concurrency(Some(bad)).unwrap_err();
            assert!(e.contains("FIND_CONCURRENCY") && e.contains(bad), "{e}");
        }
    }
}
