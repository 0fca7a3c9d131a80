use tokenfab_catalog::Catalog;
use tokenfab_plan::*;

#[test]
fn builtin_runs() {
    let catalog = Catalog::builtin();
    let s = Scenario::builtin();
    assert_eq!(s.validate("builtin", &catalog), vec![]);
    let mut cache = CapacityCache::default();
    let t = std::time::Instant::now();
    let p = plan(&s, &WhatIf::default(), &catalog, &AnalyticCapacity::default(), &mut cache).unwrap();
    eprintln!("plan took {:?}", t.elapsed());
    for r in &p.capacity {
        let c = &r.capacity;
        eprintln!(
            "{} {} {:?} b={} unit={:.3e} tpot={:.1} ttft={:.0} J/tok={:.4} P={:.0} {}",
            r.task,
            r.supply,
            c.parallel.map(|p| tokenfab_plan::capacity::layout_name(&p)),
            c.batch,
            r.tokens_per_s_per_unit,
            c.tpot_ms,
            c.ttft_ms,
            c.energy_j_per_token,
            c.chip_power_w,
            c.reason.clone().unwrap_or_default()
        );
    }
    for q in &p.quarters {
        eprintln!(
            "{} dem={:.3e} cap={:.3e} util={:.2} share={:.2} IT={:.0} fac={:.0} cost={:.3e} $/Mtok={:.3} {:?} {:?}",
            q.quarter,
            q.demand_tokens_per_s,
            q.capacity_tokens_per_s,
            q.utilization,
            q.serving_share,
            q.it_power_mw,
            q.facility_power_mw,
            q.cost_usd,
            q.usd_per_mtok,
            q.chips_by_vendor,
            q.binding.iter().map(|b| b.message.clone()).collect::<Vec<_>>()
        );
    }
}
