//! Calendar quarters (`2026Q3`), the planner's unit of time.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Hours in a quarter: 8 760 h per (non-leap) year / 4. Leap days are ignored on purpose: the
/// planner's inputs are far less precise than 0.3 %.
pub const HOURS_PER_QUARTER: f64 = 8760.0 / 4.0;
/// Seconds in a quarter (see [`HOURS_PER_QUARTER`]).
pub const SECONDS_PER_QUARTER: f64 = HOURS_PER_QUARTER * 3600.0;

/// A calendar quarter, e.g. `2026Q3`. Ordered by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Quarter {
    /// Calendar year.
    pub year: i32,
    /// 1..=4.
    pub q: u8,
}

impl Quarter {
    /// A quarter; `q` must be 1..=4.
    pub fn new(year: i32, q: u8) -> Quarter {
        assert!((1..=4).contains(&q), "quarter must be 1..=4");
        Quarter { year, q }
    }

    /// Quarters since year 0 Q1 (for arithmetic).
    pub fn index(self) -> i64 {
        self.year as i64 * 4 + (self.q as i64 - 1)
    }

    fn from_index(i: i64) -> Quarter {
        Quarter { year: i.div_euclid(4) as i32, q: (i.rem_euclid(4) + 1) as u8 }
    }

    /// This quarter plus `n` quarters (negative goes back).
    pub fn plus(self, n: i64) -> Quarter {
        Quarter::from_index(self.index() + n)
    }

    /// Quarters from `self` to `later` (negative if `later` is earlier).
    pub fn until(self, later: Quarter) -> i64 {
        later.index() - self.index()
    }

    /// Every quarter from `self` to `end`, inclusive.
    pub fn range_to(self, end: Quarter) -> Vec<Quarter> {
        (self.index()..=end.index()).map(Quarter::from_index).collect()
    }
}

impl fmt::Display for Quarter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}Q{}", self.year, self.q)
    }
}

impl std::str::FromStr for Quarter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_uppercase();
        let bad = || format!("expected a quarter like `2026Q3`, got `{s}`");
        let (y, q) = t.split_once('Q').ok_or_else(bad)?;
        let year: i32 = y.trim_end_matches('-').parse().map_err(|_| bad())?;
        let q: u8 = q.parse().map_err(|_| bad())?;
        if !(1..=4).contains(&q) || !(1900..=2200).contains(&year) {
            return Err(bad());
        }
        Ok(Quarter { year, q })
    }
}

impl TryFrom<String> for Quarter {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Quarter> for String {
    fn from(q: Quarter) -> String {
        q.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_display_and_arithmetic() {
        for (text, year, q) in [("2026Q3", 2026, 3), ("2029q4", 2029, 4), ("2027-Q1", 2027, 1)] {
            let got: Quarter = text.parse().unwrap();
            assert_eq!((got.year, got.q), (year, q), "{text}");
        }
        for bad in ["2026", "2026Q5", "2026Q0", "Q3", "abcdQ1"] {
            assert!(bad.parse::<Quarter>().is_err(), "{bad} should not parse");
        }
        let q = Quarter::new(2026, 3);
        assert_eq!(q.plus(2).to_string(), "2027Q1");
        assert_eq!(q.plus(-3).to_string(), "2025Q4");
        assert_eq!(q.until(Quarter::new(2029, 4)), 13);
        assert_eq!(q.range_to(Quarter::new(2027, 2)).len(), 4);
    }
}
