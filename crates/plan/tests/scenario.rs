//! Scenario files: the built-in one validates; bad files name the file, the field and what was
//! expected; what-ifs that name unknown things are errors.
use tokenfab_catalog::Catalog;
use tokenfab_plan::*;

#[test]
fn builtin_scenario_validates_and_matches_the_shipped_example() {
    let catalog = Catalog::builtin();
    let s = Scenario::builtin();
    assert_eq!(s.validate("builtin", &catalog), vec![]);
    assert_eq!(s.name, BUILTIN_NAME);
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/plans/frontier-lab-2026-2029.toml");
    let text = std::fs::read_to_string(example).expect("examples/plans/frontier-lab-2026-2029.toml");
    assert_eq!(text, BUILTIN_FRONTIER_LAB, "examples/plans/ copy differs from crates/plan/data/");
}

#[test]
fn builtin_supply_totals_match_the_cited_gigawatts() {
    // hw_racks.csv: NVIDIA >= 10 GW, AMD 6 GW, Broadcom 10 GW (facility GW, see the file header).
    let s = Scenario::builtin();
    for (vendor, gw) in [("nvidia", 10.0), ("amd", 6.0), ("broadcom", 10.0)] {
        let total: f64 =
            s.supplies.iter().filter(|x| x.vendor == vendor).flat_map(|x| x.deliveries.values()).sum::<f64>() / 1e3;
        assert!((total - gw).abs() < 0.01, "{vendor}: {total} GW delivered, cited {gw}");
    }
    assert_eq!(s.demand.weekly_active_users, 800e6);
}

/// (what to replace in the small example, with what, the field the error names, words in it).
const CASES: &[(&str, &str, &str, &str)] = &[
    ("name = \"example-small\"", "name = \"x\"\ncolour = 1", "line 4, column 1", "unknown field `colour`"),
    ("start = \"2026Q1\"", "start = \"2026Q5\"", "line 5, column 9", "expected a quarter like `2026Q3`"),
    ("system = \"hgx-h100-8\"", "system = \"nope-9000\"", "supply[h100-nodes].system", "unknown system `nope-9000`"),
    ("model = \"llama-3.1-8b\"", "model = \"gpt-9\"", "task[chat].model", "not one of the [[model]] ids"),
    ("share = 1.0", "share = 1.5", "task[chat].share", "expected 0 ≤ share ≤ 1"),
    ("share = 1.0", "share = 1.0\ntokens_per_day = 5.0", "task[chat].share", "exactly one of"),
    ("\npue = 1.2", "\npue = 0.9", "site[own-dc].pue", "expected 1 ≤ PUE < 5"),
    ("\npue = 1.2\n", "\n", "line 40, column 1", "missing field `pue`"),
    ("\"2026Q1\" = 2,", "\"2025Q4\" = 2,", "supply[h100-nodes].deliveries.2025Q4", "before the supply is available"),
    ("tpot_ms = 40", "tpot_ms = -1", "task[chat].tpot_ms", "expected a positive SLO"),
    ("unit = \"racks\"", "unit = \"pallets\"", "line 36, column 8", "unknown variant `pallets`"),
    ("depreciation_years = 5", "depreciation_years = 0", "finance.depreciation_years", "positive number of years"),
];

#[test]
fn bad_scenarios_name_file_field_and_expectation() {
    let catalog = Catalog::builtin();
    for (from, to, field, words) in CASES {
        assert!(EXAMPLE_SMALL.contains(from), "case text `{from}` not in the example");
        let text = EXAMPLE_SMALL.replacen(from, to, 1);
        let err = Scenario::load("my.toml", &text, &catalog).expect_err(&format!("`{to}` should be rejected"));
        let e = err.0.iter().find(|e| e.message.contains(words)).unwrap_or_else(|| panic!("`{to}`: got {err}"));
        assert_eq!(e.file, "my.toml");
        assert!(e.field.starts_with(field), "`{to}`: field `{}`, expected `{field}`", e.field);
        assert!(err.to_string().starts_with("1 problem(s) in scenario:\n  - my.toml: "), "{err}");
    }
}

#[test]
fn every_semantic_problem_is_reported_at_once() {
    let text = EXAMPLE_SMALL.replacen("\npue = 1.2", "\npue = 0.5", 1).replacen("tpot_ms = 40", "tpot_ms = 0", 1);
    let err = Scenario::load("my.toml", &text, &Catalog::builtin()).unwrap_err();
    assert_eq!(err.0.len(), 2, "{err}");
}

#[test]
fn what_ifs_that_name_unknown_things_are_errors() {
    let s = Scenario::from_toml("x", EXAMPLE_SMALL).unwrap();
    let cases: Vec<(WhatIf, &str)> = vec![
        (
            WhatIf { delays: [("intel".into(), 2)].into(), ..Default::default() },
            "no supply from vendor `intel`; vendors: nvidia",
        ),
        (
            WhatIf { site_caps: [("moon".into(), 5.0)].into(), ..Default::default() },
            "unknown site `moon`; sites: own-dc, colo",
        ),
        (WhatIf { asic_efficiency_pct: Some(10.0), ..Default::default() }, "no supply has `in_house = true`"),
        (WhatIf { demand_scale: Some(-1.0), ..Default::default() }, "demand scale must be ≥ 0"),
    ];
    for (w, msg) in cases {
        let e = w.apply(&s).unwrap_err().to_string();
        assert!(e.contains(msg), "{e}");
    }
}

#[test]
fn what_ifs_change_what_they_say() {
    let s = Scenario::builtin();
    let d = WhatIf { delays: [("amd".into(), 2)].into(), ..Default::default() }.apply(&s).unwrap();
    let amd = |x: &Scenario| x.supplies.iter().find(|v| v.vendor == "amd").unwrap().clone();
    assert_eq!(amd(&d).available, amd(&s).available.plus(2));
    assert_eq!(amd(&d).deliveries.values().sum::<f64>(), amd(&s).deliveries.values().sum::<f64>());
    let e = WhatIf { asic_efficiency_pct: Some(-20.0), ..Default::default() }.apply(&s).unwrap();
    let inhouse = e.supplies.iter().find(|v| v.in_house).unwrap();
    assert!((inhouse.efficiency_scale - 0.8).abs() < 1e-12);
    let c = WhatIf { site_caps: [("own-campus".into(), 500.0)].into(), ..Default::default() }.apply(&s).unwrap();
    let site = c.sites.iter().find(|k| k.name == "own-campus").unwrap();
    assert_eq!(site.cap_mw(Quarter::new(2029, 4)), 500.0);
    assert_eq!(site.cap_mw(Quarter::new(2026, 1)), 0.0, "before the site is available");
}

#[test]
fn a_fixed_layout_is_used_and_a_bad_one_is_a_clear_error() {
    let catalog = Catalog::builtin();
    let model = AnalyticCapacity::default();
    let with = |layout: &str| {
        let text = EXAMPLE_SMALL.replacen("unit = \"racks\"", &format!("unit = \"racks\"\nparallel = {layout}"), 1);
        Scenario::load("x.toml", &text, &catalog).unwrap()
    };
    let p = plan(&with("{ tp = 2 }"), &WhatIf::default(), &catalog, &model, &mut CapacityCache::default()).unwrap();
    let c = &p.capacity[0].capacity;
    assert_eq!((c.chips_per_replica, c.parallel.unwrap().tp), (2, 2));
    let e = plan(&with("{ tp = 16 }"), &WhatIf::default(), &catalog, &model, &mut CapacityCache::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("supply `h100-nodes`") && e.contains("tp 16 is larger than the scale-up domain"), "{e}");
    let text = EXAMPLE_SMALL.replacen("unit = \"racks\"", "unit = \"racks\"\nparallel = { tensor = 2 }", 1);
    let e = Scenario::load("x.toml", &text, &catalog).unwrap_err().to_string();
    assert!(e.contains("unknown field `tensor`"), "{e}");
}

#[test]
fn a_scenario_written_back_as_toml_reads_the_same() {
    // run.toml records the resolved scenario this way: it must repeat the run exactly.
    for s in [Scenario::builtin(), Scenario::from_toml("x", EXAMPLE_SMALL).unwrap()] {
        let text = toml::to_string(&s).unwrap();
        let back = Scenario::from_toml("back.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, s);
    }
}
