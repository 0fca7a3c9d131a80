use tokenfab_catalog::Catalog;
use tokenfab_sim::scenario::{Resolved, Scenario};

#[test]
fn default_scenario_runs() {
    let cat = Catalog::builtin();
    let s = Scenario::builtin("default").unwrap();
    let r = Resolved::new("builtin:default", &s, &cat).unwrap();
    for p in &r.deployment.pools {
        eprintln!(
            "pool {:?} kv_blocks {} weights {:.1} GB kv {:.1} GB",
            p.role,
            p.kv_blocks,
            p.weight_bytes_per_chip / 1e9,
            p.kv_bytes_per_chip / 1e9
        );
    }
    let t = std::time::Instant::now();
    let (res, cap) = r.execute(1, None, &|| {}).unwrap();
    let sum = res.summary(&r.config.slos, r.deployment.it_power_factor, r.config.pue);
    eprintln!("cap {cap:?} wall {:?}\n{sum:#?}", t.elapsed());
    assert!(sum.counters.requests_completed > 0);
}
