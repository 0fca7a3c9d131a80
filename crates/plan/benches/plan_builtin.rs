//! Speed of the planner on the built-in scenario (the target: `tokenfab plan` ≤ 30 s).
//! Run: `cargo bench -p tokenfab-plan --bench plan_builtin`. Prints cold (capacity computed) and
//! warm (capacity cached) times; the numbers live here, not in timed tests.
use std::time::Instant;
use tokenfab_catalog::Catalog;
use tokenfab_plan::{AnalyticCapacity, CapacityCache, Scenario, WhatIf, plan};

fn main() {
    let catalog = Catalog::builtin();
    let scenario = Scenario::builtin();
    let model = AnalyticCapacity::default();
    let what_ifs = [
        WhatIf::default(),
        WhatIf { delays: [("nvidia".into(), 2)].into(), ..Default::default() },
        WhatIf { demand_scale: Some(20.0), ..Default::default() },
        WhatIf { asic_efficiency_pct: Some(-20.0), ..Default::default() },
        WhatIf { site_caps: [("own-campus".into(), 8000.0)].into(), ..Default::default() },
    ];
    let runs = 5;
    let mut cold = f64::INFINITY;
    let mut warm = f64::INFINITY;
    for _ in 0..runs {
        let mut cache = CapacityCache::default();
        let t = Instant::now();
        for w in &what_ifs {
            std::hint::black_box(plan(&scenario, w, &catalog, &model, &mut cache).expect("plan"));
        }
        cold = cold.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for w in &what_ifs {
            std::hint::black_box(plan(&scenario, w, &catalog, &model, &mut cache).expect("plan"));
        }
        warm = warm.min(t.elapsed().as_secs_f64());
    }
    println!(
        "plan_builtin: base + 4 what-ifs, 14 quarters: cold {:.1} ms, warm {:.1} ms (best of {runs})",
        cold * 1e3,
        warm * 1e3
    );
}
