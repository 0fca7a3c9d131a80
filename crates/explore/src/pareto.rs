//! The Pareto frontier of (tokens per joule ↑, dollars per million tokens ↓).

/// `a` dominates `b`: at least as good in both objectives and strictly better in one.
/// Points are `(tokens_per_joule, usd_per_mtok)`.
pub fn dominates(a: (f64, f64), b: (f64, f64)) -> bool {
    a.0 >= b.0 && a.1 <= b.1 && (a.0 > b.0 || a.1 < b.1)
}

/// Indices of the non-dominated points, in order of increasing cost. Exact (no tolerance):
/// points with identical objectives are all kept. O(n log n): sort by cost, then efficiency
/// descending, and keep each point that is more efficient than everything cheaper.
/// Non-finite points are ignored.
pub fn frontier(points: &[(f64, f64)]) -> Vec<usize> {
    let mut order: Vec<usize> =
        (0..points.len()).filter(|&i| points[i].0.is_finite() && points[i].1.is_finite()).collect();
    order.sort_by(|&a, &b| {
        let (pa, pb) = (points[a], points[b]);
        pa.1.total_cmp(&pb.1).then(pb.0.total_cmp(&pa.0)).then(a.cmp(&b))
    });
    let mut out: Vec<usize> = Vec::new();
    let mut best: Option<(f64, f64)> = None;
    for i in order {
        let p = points[i];
        match best {
            None => {
                out.push(i);
                best = Some(p);
            }
            Some(b) if p.0 > b.0 => {
                out.push(i);
                best = Some(p);
            }
            // An exact duplicate of the last kept point is not dominated by it.
            Some(b) if p == b => out.push(i),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brute(points: &[(f64, f64)]) -> Vec<usize> {
        let mut v: Vec<usize> =
            (0..points.len()).filter(|&i| !points.iter().any(|&q| dominates(q, points[i]))).collect();
        v.sort_by(|&a, &b| {
            points[a].1.total_cmp(&points[b].1).then(points[b].0.total_cmp(&points[a].0)).then(a.cmp(&b))
        });
        v
    }

    #[test]
    fn cases() {
        let check = |pts: &[(f64, f64)], want: &[usize]| assert_eq!(frontier(pts), want, "{pts:?}");
        check(&[], &[]);
        check(&[(1.0, 1.0)], &[0]);
        check(&[(1.0, 1.0), (2.0, 2.0), (0.5, 3.0)], &[0, 1]);
        check(&[(1.0, 1.0), (1.0, 1.0)], &[0, 1]);
        check(&[(1.0, 1.0), (1.0, 2.0)], &[0]);
        check(&[(1.0, 2.0), (2.0, 2.0)], &[1]);
        check(&[(3.0, 3.0), (2.0, 2.0), (1.0, 1.0)], &[2, 1, 0]);
    }

    proptest! {
        #[test]
        fn matches_brute_force_and_nothing_dominates_a_frontier_point(
            pts in prop::collection::vec((0u8..20, 0u8..20), 0..60)
        ) {
            let pts: Vec<(f64, f64)> = pts.into_iter().map(|(a, b)| (a as f64 / 4.0, b as f64 / 4.0)).collect();
            let f = frontier(&pts);
            prop_assert_eq!(&f, &brute(&pts));
            for &i in &f {
                for q in &pts {
                    prop_assert!(!dominates(*q, pts[i]));
                }
            }
        }
    }
}
