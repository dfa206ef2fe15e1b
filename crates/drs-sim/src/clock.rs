use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use execution_core::model::Timestamp;
use execution_core::ports::Clock;

/// A clock that moves only when advanced: simulated time, deterministic.
#[derive(Debug, Default)]
pub struct SimClock(AtomicI64);

impl SimClock {
    pub fn at_secs(secs: i64) -> Self {
        Self(AtomicI64::new(secs.saturating_mul(1000)))
    }

    pub fn now(&self) -> Timestamp {
        execution_core::ports::now(self)
    }

    pub fn advance(&self, by: Duration) {
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(millis, Ordering::SeqCst);
    }

    pub fn advance_secs(&self, secs: u64) {
        self.advance(Duration::from_secs(secs));
    }
}

impl Clock for SimClock {
    fn now_millis(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_only_when_advanced() {
        let c = SimClock::at_secs(100);
        assert_eq!(c.now(), Timestamp(100));
        c.advance_secs(30);
        c.advance(Duration::from_millis(1500));
        assert_eq!(c.now_millis(), 131_500);
        assert_eq!(c.now(), Timestamp(131));
    }
}
