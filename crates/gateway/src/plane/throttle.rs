//! Token buckets: capacity = burst, refilled at `rate` tokens per second, one token per request.
//!
//! A bucket is one tiny mutex around two numbers; taking a token allocates nothing.

use std::time::Instant;

use parking_lot::Mutex;

/// AWS's account-level default for every API in a region.
pub const ACCOUNT_RATE: f64 = 10_000.0;
/// AWS's account-level default burst.
pub const ACCOUNT_BURST: f64 = 5_000.0;

#[derive(Debug)]
struct State {
    tokens: f64,
    refilled: Instant,
}

/// A token bucket.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<State>,
}

impl TokenBucket {
    /// A full bucket. A burst of 0 refuses everything (as AWS does for a 0 limit).
    pub fn new(rate: f64, burst: f64) -> Self {
        let burst = burst.max(0.0);
        Self {
            rate: rate.max(0.0),
            burst,
            state: Mutex::new(State {
                tokens: burst,
                refilled: Instant::now(),
            }),
        }
    }

    /// Takes a token if there is one.
    pub fn try_take(&self) -> bool {
        self.try_take_at(Instant::now())
    }

    fn try_take_at(&self, now: Instant) -> bool {
        let mut state = self.state.lock();
        let elapsed = now.saturating_duration_since(state.refilled).as_secs_f64();
        state.tokens = (state.tokens + elapsed * self.rate).min(self.burst);
        state.refilled = now;
        if state.tokens >= 1.0 {
            state.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill_at_rate() {
        let bucket = TokenBucket::new(2.0, 3.0);
        let start = Instant::now();
        assert!((0..3).all(|_| bucket.try_take_at(start)));
        assert!(!bucket.try_take_at(start));
        assert!(bucket.try_take_at(start + Duration::from_millis(500)));
        assert!(!bucket.try_take_at(start + Duration::from_millis(600)));
        // Never more than the burst, however long it rests.
        let later = start + Duration::from_secs(60);
        assert!((0..3).all(|_| bucket.try_take_at(later)));
        assert!(!bucket.try_take_at(later));
    }

    #[test]
    fn zero_burst_refuses() {
        assert!(!TokenBucket::new(100.0, 0.0).try_take());
    }
}
