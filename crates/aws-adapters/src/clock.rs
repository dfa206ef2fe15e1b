use std::time::{SystemTime, UNIX_EPOCH};

use execution_core::ports::Clock;

/// The host's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            // A clock set before 1970: negative, not a panic.
            Err(e) => i64::try_from(e.duration().as_millis())
                .map(|m| -m)
                .unwrap_or(i64::MIN),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_is_after_2024_and_in_millis() {
        let now = SystemClock.now_millis();
        // 2024-01-01 in ms; a value in seconds would be far below.
        assert!(now > 1_704_067_200_000, "{now}");
        assert!(now < 4_102_444_800_000, "{now}");
    }
}
