//! Simulated time: integer nanoseconds since the start of the run.

use serde::{Deserialize, Serialize};

/// A point in simulated time, nanoseconds since the start of the run. Integer so that event
/// order and every output are exact and reproducible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct SimTime(pub u64);

impl SimTime {
    /// Time zero.
    pub const ZERO: SimTime = SimTime(0);

    /// From seconds (rounded to the nearest ns; negative and NaN become 0).
    pub fn from_s(s: f64) -> SimTime {
        SimTime(s_to_ns(s))
    }

    /// Nanoseconds.
    pub fn ns(self) -> u64 {
        self.0
    }

    /// Seconds (for reporting).
    pub fn as_s(self) -> f64 {
        self.0 as f64 * 1e-9
    }

    /// `self + d` nanoseconds, saturating.
    pub fn plus_ns(self, d: u64) -> SimTime {
        SimTime(self.0.saturating_add(d))
    }
}

/// Seconds to whole nanoseconds (round to nearest, clamp at 0, at least 1 ns for positive input
/// so that a step never takes zero time).
pub fn s_to_ns(s: f64) -> u64 {
    if s.is_nan() || s <= 0.0 {
        0
    } else if s >= u64::MAX as f64 * 1e-9 {
        u64::MAX
    } else {
        ((s * 1e9).round() as u64).max(1)
    }
}
