//! Latency samples and their summary.

use std::time::Duration;

/// Round-trip times, in nanoseconds.
#[derive(Default)]
pub struct Latencies(Vec<u64>);

/// Average and percentiles of [`Latencies`], in microseconds.
#[derive(Debug, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub avg_us: f64,
    pub p50_us: f64,
    pub p99_us: f64,
}

impl Latencies {
    pub fn with_capacity(n: usize) -> Latencies {
        Latencies(Vec::with_capacity(n))
    }

    pub fn push(&mut self, d: Duration) {
        self.0.push(d.as_nanos().min(u128::from(u64::MAX)) as u64);
    }

    /// The summary; all zero without samples.
    pub fn summary(&self) -> Summary {
        let mut v = self.0.clone();
        v.sort_unstable();
        let n = v.len();
        if n == 0 {
            return Summary {
                n,
                avg_us: 0.0,
                p50_us: 0.0,
                p99_us: 0.0,
            };
        }
        // The nearest-rank percentile: the smallest sample with at least p % at or below it.
        let rank = |p: usize| v[(n * p).div_ceil(100).clamp(1, n) - 1] as f64 / 1000.0;
        Summary {
            n,
            avg_us: v.iter().sum::<u64>() as f64 / n as f64 / 1000.0,
            p50_us: rank(50),
            p99_us: rank(99),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_with_nearest_rank_percentiles() {
        let mut l = Latencies::default();
        for us in 1..=100u64 {
            l.push(Duration::from_micros(us));
        }
        let s = l.summary();
        assert_eq!(s.n, 100);
        assert_eq!(s.avg_us, 50.5);
        assert_eq!(s.p50_us, 50.0);
        assert_eq!(s.p99_us, 99.0);
        let mut one = Latencies::default();
        one.push(Duration::from_micros(7));
        assert_eq!(one.summary().p99_us, 7.0);
        assert_eq!(Latencies::default().summary().n, 0);
    }
}
