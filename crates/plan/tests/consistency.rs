//! Invariants every plan must satisfy, on the built-in and the small scenario under random
//! what-ifs: facility ≥ IT power; chips × per-chip system power ≈ IT power; served demand ≤
//! capacity × utilization cap; energy = power × time; site power within caps.
use proptest::prelude::*;
use std::cell::RefCell;
use tokenfab_catalog::Catalog;
use tokenfab_plan::*;

thread_local! {
    static CATALOG: Catalog = Catalog::builtin();
    static CACHE: RefCell<CapacityCache> = RefCell::new(CapacityCache::default());
}

fn run(s: &Scenario, w: &WhatIf) -> Plan {
    CATALOG.with(|c| CACHE.with(|cache| plan(s, w, c, &AnalyticCapacity::default(), &mut cache.borrow_mut()).unwrap()))
}

fn check_plan(s: &Scenario, w: &WhatIf, p: &Plan) {
    let s = w.apply(s).unwrap();
    assert_eq!(p.quarters.len(), s.quarters().len());
    for (qp, q) in p.quarters.iter().zip(s.quarters()) {
        let at = format!("{} {}", p.what_if, qp.quarter);
        assert_eq!(qp.quarter, q.to_string());
        let tol = |x: f64| 1e-6 * x.abs().max(1.0);
        // Facility ≥ IT, and within the PUE range of the sites.
        assert!(qp.facility_power_mw + tol(qp.facility_power_mw) >= qp.it_power_mw, "{at}: facility < IT");
        let pue_max = s.sites.iter().map(|k| k.pue).fold(1.0, f64::max);
        assert!(qp.facility_power_mw <= qp.it_power_mw * pue_max + tol(qp.facility_power_mw), "{at}: PUE too high");
        // chips × per-chip system power ≈ IT power (chips are rounded to whole chips per supply).
        let mut it_from_chips = 0.0;
        let mut slack = 0.0;
        for r in &p.supplies {
            let units = qp.units_by_supply[&r.name];
            let chips = (units * r.chips_per_unit as f64).round();
            let per_chip_mw = r.unit_it_mw / r.chips_per_unit as f64;
            it_from_chips += chips * per_chip_mw;
            slack += 0.5 * per_chip_mw;
        }
        assert!(
            (it_from_chips - qp.it_power_mw).abs() <= slack + tol(qp.it_power_mw),
            "{at}: chips give {it_from_chips} MW, plan says {}",
            qp.it_power_mw
        );
        let chips: u64 = qp.chips_by_vendor.values().sum();
        let delivered: u64 = qp.chips_delivered_by_vendor.values().sum();
        assert!(chips <= delivered + p.supplies.len() as u64, "{at}: more chips deployed than delivered");
        // Served ≤ capacity × utilization cap; served + unserved = demand.
        assert!(
            qp.served_tokens_per_s <= qp.capacity_tokens_per_s * s.utilization_cap + tol(qp.served_tokens_per_s) * 10.0,
            "{at}: served {} > capacity {} × cap",
            qp.served_tokens_per_s,
            qp.capacity_tokens_per_s
        );
        assert!(
            (qp.served_tokens_per_s + qp.unserved_tokens_per_s - qp.demand_tokens_per_s).abs()
                <= tol(qp.demand_tokens_per_s)
        );
        assert!(qp.utilization <= s.utilization_cap + 1e-6, "{at}: utilization {}", qp.utilization);
        // Energy = facility power × hours in the quarter.
        let e = qp.facility_power_mw * HOURS_PER_QUARTER / 1e6;
        assert!((qp.energy_twh - e).abs() <= tol(e), "{at}: energy {} vs {e}", qp.energy_twh);
        // Sites within their caps.
        for k in &s.sites {
            let used = qp.facility_power_mw_by_site.get(&k.name).copied().unwrap_or(0.0);
            assert!(used <= k.cap_mw(q) + tol(k.cap_mw(q)), "{at}: site {} uses {used} MW of {}", k.name, k.cap_mw(q));
        }
        // Shortfalls name a binding constraint.
        if qp.unserved_tokens_per_s > 1e-6 * qp.demand_tokens_per_s.max(1.0) {
            assert!(!qp.binding.is_empty(), "{at}: unserved demand but no binding constraint");
        }
        assert!(qp.cost_usd >= 0.0 && qp.usd_per_mtok >= 0.0);
    }
    let energy: f64 = p.years.iter().map(|y| y.energy_twh).sum();
    let energy_q: f64 = p.quarters.iter().map(|q| q.energy_twh).sum();
    assert!((energy - energy_q).abs() <= 1e-9 * energy_q.max(1.0));
}

fn what_if() -> impl Strategy<Value = WhatIf> {
    (
        prop::option::of(0.05f64..40.0),
        prop::option::of(-60.0f64..60.0),
        prop::option::of((0usize..3, 0i64..5)),
        prop::option::of((0usize..2, 0.0f64..20_000.0)),
    )
        .prop_map(|(scale, pct, delay, cap)| WhatIf {
            demand_scale: scale,
            asic_efficiency_pct: pct,
            delays: delay.map(|(v, k)| [(["nvidia", "amd", "broadcom"][v].to_string(), k)].into()).unwrap_or_default(),
            site_caps: cap
                .map(|(s, mw)| [(["own-campus", "partner-cloud"][s].to_string(), mw)].into())
                .unwrap_or_default(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn builtin_plans_are_consistent(w in what_if()) {
        let s = Scenario::builtin();
        let p = run(&s, &w);
        check_plan(&s, &w, &p);
    }

    #[test]
    fn small_plans_are_consistent(scale in 0.1f64..200.0, cap in 0.0f64..2.0) {
        let s = Scenario::from_toml("example", EXAMPLE_SMALL).unwrap();
        let w = WhatIf { demand_scale: Some(scale), site_caps: [("colo".to_string(), cap)].into(), ..Default::default() };
        let p = run(&s, &w);
        check_plan(&s, &w, &p);
    }
}

#[test]
fn base_builtin_plan_is_consistent_and_deterministic() {
    let s = Scenario::builtin();
    let a = run(&s, &WhatIf::default());
    check_plan(&s, &WhatIf::default(), &a);
    let b = CATALOG.with(|c| {
        plan(&s, &WhatIf::default(), c, &AnalyticCapacity::default(), &mut CapacityCache::default()).unwrap()
    });
    assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
}

#[test]
fn a_demand_surge_beyond_supply_names_the_binding_constraint_and_by_how_much() {
    // The small scenario at 300× demand: 16 H100 nodes cannot serve it.
    let s = Scenario::from_toml("example", EXAMPLE_SMALL).unwrap();
    let w = WhatIf { demand_scale: Some(300.0), ..Default::default() };
    let p = run(&s, &w);
    let q = p.quarters.last().unwrap();
    assert!(q.unserved_tokens_per_s > 0.0);
    let b: Vec<_> = q.binding.iter().filter(|b| b.increase_needed.is_some()).collect();
    assert!(!b.is_empty(), "{:?}", q.binding);
    for b in b {
        assert!(b.increase_needed.unwrap() > 0.0);
        assert!(b.message.contains("raising it by") || b.joint && b.message.contains("together"), "{}", b.message);
    }
}

#[test]
fn growing_request_lengths_recompute_capacity_per_quarter() {
    let mut s = Scenario::builtin();
    s.demand.grow_request_length = true;
    let w = WhatIf::default();
    let p = run(&s, &w);
    check_plan(&s, &w, &p);
    let n = s.tasks.len() * s.supplies.len();
    assert_eq!(p.capacity.len(), n * s.quarters().len());
    let coding = |quarter: &str| {
        p.capacity
            .iter()
            .find(|r| r.task == "coding" && r.quarter == quarter && r.supply == "nvidia-vera-rubin")
            .unwrap()
    };
    let (first, last) = (coding("2026Q3"), coding("2029Q4"));
    // 10 %/quarter from 2025Q4: ×1.1^3 at 2026Q3 and ×1.1^16 at 2029Q4.
    assert_eq!(first.input_tokens, (20000.0 * 1.1f64.powi(3)).round() as u64);
    assert_eq!(last.input_tokens, (20000.0 * 1.1f64.powi(16)).round() as u64);
    assert!(last.tokens_per_s_per_unit < first.tokens_per_s_per_unit, "longer requests, fewer tokens/s per system");
    let fixed = run(&Scenario::builtin(), &w);
    let (a, b) = (p.quarters.last().unwrap(), fixed.quarters.last().unwrap());
    assert_eq!(a.demand_tokens_per_s, b.demand_tokens_per_s, "length growth changes capacity, not demand");
}
