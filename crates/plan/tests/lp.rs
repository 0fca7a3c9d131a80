//! The placement LP on small cases whose optimum is known by hand.
use tokenfab_plan::lp::{AllocationProblem, LpSite, LpSupply, LpTask};

fn supply(name: &str, units: f64, mw: f64, sites: usize) -> LpSupply {
    LpSupply { name: name.into(), available_units: units, unit_it_mw: mw, allowed_sites: vec![true; sites] }
}
fn site(name: &str, cap: f64, pue: f64) -> LpSite {
    LpSite { name: name.into(), cap_facility_mw: cap, pue }
}
fn task(name: &str, demand: f64) -> LpTask {
    LpTask { name: name.into(), demand_tokens_per_s: demand }
}
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * b.abs().max(1.0)
}

/// Expected: deployed per (supply, site), serving per (task, supply, site), unserved per task,
/// and the binding constraints with the increase each needs (None = not computed / not enough).
struct Expect {
    deployed: Vec<Vec<f64>>,
    serving: Vec<Vec<Vec<f64>>>,
    unserved: Vec<f64>,
    binding: Vec<(&'static str, Option<f64>)>,
}

fn check(name: &str, p: AllocationProblem, e: Expect) {
    let a = p.solve().unwrap_or_else(|err| panic!("{name}: {err}"));
    for (s, row) in e.deployed.iter().enumerate() {
        for (k, v) in row.iter().enumerate() {
            assert!(close(a.deployed[s][k], *v), "{name}: deployed[{s}][{k}] = {} expected {v}", a.deployed[s][k]);
        }
    }
    for (t, m) in e.serving.iter().enumerate() {
        for (s, row) in m.iter().enumerate() {
            for (k, v) in row.iter().enumerate() {
                assert!(
                    close(a.serving[t][s][k], *v),
                    "{name}: serving[{t}][{s}][{k}] = {} expected {v}",
                    a.serving[t][s][k]
                );
            }
        }
    }
    for (t, v) in e.unserved.iter().enumerate() {
        assert!(
            close(a.unserved_tokens_per_s[t], *v),
            "{name}: unserved[{t}] = {} expected {v}",
            a.unserved_tokens_per_s[t]
        );
    }
    let got: Vec<(String, Option<f64>)> =
        p.binding(&a).into_iter().map(|b| (b.constraint, b.increase_needed)).collect();
    assert_eq!(got.len(), e.binding.len(), "{name}: binding {got:?}");
    for ((gn, gv), (en, ev)) in got.iter().zip(&e.binding) {
        assert_eq!(gn, en, "{name}: binding {got:?}");
        match (gv, ev) {
            (Some(g), Some(x)) => assert!(close(*g, *x), "{name}: {gn} needs {g}, expected {x}"),
            (None, None) => {}
            _ => panic!("{name}: {gn} increase {gv:?}, expected {ev:?}"),
        }
    }
}

#[test]
fn demand_within_supply_is_served_and_everything_is_deployed() {
    check(
        "fits",
        AllocationProblem {
            supplies: vec![supply("a", 10.0, 1.0, 1)],
            sites: vec![site("s", 100.0, 1.0)],
            tasks: vec![task("chat", 500.0)],
            tokens_per_s_per_unit: vec![vec![100.0]],
            unit_cost_usd: vec![vec![1000.0]],
        },
        Expect {
            deployed: vec![vec![10.0]],
            serving: vec![vec![vec![5.0]]],
            unserved: vec![0.0],
            binding: vec![("deliveries:a", None)],
        },
    );
}

#[test]
fn short_supply_names_deliveries_and_the_missing_units() {
    // 10 units × 100 tok/s = 1000 of 2000 demanded: 10 more units needed.
    check(
        "short deliveries",
        AllocationProblem {
            supplies: vec![supply("a", 10.0, 1.0, 1)],
            sites: vec![site("s", 100.0, 1.0)],
            tasks: vec![task("chat", 2000.0)],
            tokens_per_s_per_unit: vec![vec![100.0]],
            unit_cost_usd: vec![vec![1000.0]],
        },
        Expect {
            deployed: vec![vec![10.0]],
            serving: vec![vec![vec![10.0]]],
            unserved: vec![1000.0],
            binding: vec![("deliveries:a", Some(10.0))],
        },
    );
}

#[test]
fn short_site_power_names_the_site_and_the_missing_megawatts() {
    // 5 MW at PUE 1.25 powers 4 one-MW units (400 tok/s of 1000): 10 units need 12.5 MW (+7.5).
    check(
        "short site",
        AllocationProblem {
            supplies: vec![supply("a", 10.0, 1.0, 1)],
            sites: vec![site("s", 5.0, 1.25)],
            tasks: vec![task("chat", 1000.0)],
            tokens_per_s_per_unit: vec![vec![100.0]],
            unit_cost_usd: vec![vec![1000.0]],
        },
        Expect {
            deployed: vec![vec![4.0]],
            serving: vec![vec![vec![4.0]]],
            unserved: vec![600.0],
            binding: vec![("site-power:s", Some(7.5))],
        },
    );
}

#[test]
fn serving_goes_to_the_cheaper_site_and_deployment_fills_both() {
    // Cheap site powers 6 units; all 10 are deployed; the 3 serving units sit in the cheap site.
    check(
        "two sites",
        AllocationProblem {
            supplies: vec![supply("a", 10.0, 1.0, 2)],
            sites: vec![site("cheap", 6.0, 1.0), site("dear", 100.0, 1.0)],
            tasks: vec![task("chat", 300.0)],
            tokens_per_s_per_unit: vec![vec![100.0]],
            unit_cost_usd: vec![vec![1000.0, 3000.0]],
        },
        Expect {
            deployed: vec![vec![6.0, 4.0]],
            serving: vec![vec![vec![3.0, 0.0]]],
            unserved: vec![0.0],
            binding: vec![("deliveries:a", None), ("site-power:cheap", None)],
        },
    );
}

#[test]
fn serving_picks_the_lowest_cost_per_token() {
    // a: $1000 for 100 tok/s ($10 per tok/s); b: $3000 for 200 tok/s ($15): serve on a.
    check(
        "cost per token",
        AllocationProblem {
            supplies: vec![supply("a", 10.0, 1.0, 1), supply("b", 10.0, 1.0, 1)],
            sites: vec![site("s", 100.0, 1.0)],
            tasks: vec![task("chat", 100.0)],
            tokens_per_s_per_unit: vec![vec![100.0, 200.0]],
            unit_cost_usd: vec![vec![1000.0], vec![3000.0]],
        },
        Expect {
            deployed: vec![vec![10.0], vec![10.0]],
            serving: vec![vec![vec![1.0], vec![0.0]]],
            unserved: vec![0.0],
            binding: vec![("deliveries:a", None), ("deliveries:b", None)],
        },
    );
}

#[test]
fn scarce_power_goes_to_the_hardware_that_can_serve() {
    // Site powers 5 units; only b meets the SLO: deploy 5 b (serving 500), no a.
    check(
        "slo-capable first",
        AllocationProblem {
            supplies: vec![supply("a", 10.0, 1.0, 1), supply("b", 10.0, 1.0, 1)],
            sites: vec![site("s", 5.0, 1.0)],
            tasks: vec![task("chat", 800.0)],
            tokens_per_s_per_unit: vec![vec![0.0, 100.0]],
            unit_cost_usd: vec![vec![1000.0], vec![1000.0]],
        },
        Expect {
            deployed: vec![vec![0.0], vec![5.0]],
            serving: vec![vec![vec![0.0], vec![5.0]]],
            unserved: vec![300.0],
            binding: vec![("site-power:s", Some(3.0))],
        },
    );
}

#[test]
fn a_task_no_hardware_can_serve_names_its_slo() {
    check(
        "slo",
        AllocationProblem {
            supplies: vec![supply("a", 10.0, 1.0, 1)],
            sites: vec![site("s", 100.0, 1.0)],
            tasks: vec![task("chat", 100.0), task("agent", 50.0)],
            tokens_per_s_per_unit: vec![vec![100.0], vec![0.0]],
            unit_cost_usd: vec![vec![1000.0]],
        },
        Expect {
            deployed: vec![vec![10.0]],
            serving: vec![vec![vec![1.0]], vec![vec![0.0]]],
            unserved: vec![0.0, 50.0],
            binding: vec![("slo:agent", None), ("deliveries:a", None)],
        },
    );
}

#[test]
fn when_no_single_limit_suffices_the_joint_increase_is_given() {
    // 2000 tok/s needs 20 units and 20 MW; there are 10 units and 5 MW. Raising either alone
    // fails; together: +10 units and +15 MW.
    check(
        "joint",
        AllocationProblem {
            supplies: vec![supply("a", 10.0, 1.0, 1)],
            sites: vec![site("s", 5.0, 1.0)],
            tasks: vec![task("chat", 2000.0)],
            tokens_per_s_per_unit: vec![vec![100.0]],
            unit_cost_usd: vec![vec![1000.0]],
        },
        Expect {
            deployed: vec![vec![5.0]],
            serving: vec![vec![vec![5.0]]],
            unserved: vec![1500.0],
            binding: vec![("site-power:s", Some(15.0)), ("deliveries:a", Some(10.0))],
        },
    );
}

#[test]
fn malformed_problems_are_errors_not_panics() {
    let p = AllocationProblem {
        supplies: vec![supply("a", 10.0, 1.0, 1)],
        sites: vec![site("s", 100.0, 1.0)],
        tasks: vec![task("chat", 100.0)],
        tokens_per_s_per_unit: vec![vec![100.0, 1.0]],
        unit_cost_usd: vec![vec![1000.0]],
    };
    assert!(p.solve().unwrap_err().to_string().contains("tokens_per_s_per_unit must be 1 × 1"));
    let p = AllocationProblem { tokens_per_s_per_unit: vec![vec![-1.0]], ..p };
    assert!(p.solve().unwrap_err().to_string().contains("negative"));
}

mod closed_form {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        /// One supply, one site, one task: deployable units = min(delivered, cap / (MW · PUE));
        /// served = min(demand, units · rate); the LP must reach exactly that optimum.
        #[test]
        fn single_supply_site_task_reaches_the_closed_form_optimum(
            units in 0.0f64..1000.0,
            mw in 0.01f64..1.0,
            cap in 0.0f64..500.0,
            pue in 1.0f64..2.0,
            rate in 1.0f64..1e6,
            demand in 0.0f64..1e8,
        ) {
            let p = AllocationProblem {
                supplies: vec![supply("a", units, mw, 1)],
                sites: vec![site("s", cap, pue)],
                tasks: vec![task("t", demand)],
                tokens_per_s_per_unit: vec![vec![rate]],
                unit_cost_usd: vec![vec![1e5]],
            };
            let a = p.solve().unwrap();
            let deployable = units.min(cap / (mw * pue));
            let served = demand.min(deployable * rate);
            let tol = 1e-6 * demand.max(deployable * rate).max(1.0);
            prop_assert!((a.deployed[0][0] - deployable).abs() <= 1e-6 * deployable.max(1.0), "deployed {} vs {deployable}", a.deployed[0][0]);
            prop_assert!((demand - a.unserved_tokens_per_s[0] - served).abs() <= tol, "served {} vs {served}", demand - a.unserved_tokens_per_s[0]);
            // Serving uses just enough units.
            prop_assert!((a.serving[0][0][0] * rate - served).abs() <= tol);
        }
    }
}
