//! Speed of the built-in space `custom-asic` (done-means: ≥ 10,000 designs in ≤ 60 s on 2 cores).
//!
//! `cargo bench -p tokenfab-explore --bench explore_builtin` runs the whole space once and prints
//! designs, feasible designs, rejections, frontier size and wall time. `EXPLORE_SPACE=FILE`
//! runs another space file instead.

use std::time::Instant;
use tokenfab_catalog::Catalog;
use tokenfab_explore::{Explorer, Shard, Space, frontier_of};

fn main() {
    let space = match std::env::var("EXPLORE_SPACE") {
        Ok(path) => {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
            Space::from_toml(&path, &text).unwrap_or_else(|e| panic!("{e}"))
        }
        Err(_) => Space::builtin().unwrap_or_else(|e| panic!("{e}")),
    };
    let catalog = Catalog::builtin();
    let explorer = Explorer::new(&space, &catalog).unwrap_or_else(|e| panic!("{e}"));
    let t0 = Instant::now();
    let run = explorer.run(0, Shard::ALL, &|| {});
    let front = frontier_of(&run);
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "explore_builtin: space {} models {:?}: {} designs evaluated in {secs:.2} s on {} threads ({:.0} designs/s); \
         {} feasible, {} on the frontier; rejections {:?}",
        space.file.name,
        explorer.workload.models.iter().map(|m| m.0.id.as_str()).collect::<Vec<_>>(),
        run.designs_evaluated,
        rayon::current_num_threads(),
        run.designs_evaluated as f64 / secs,
        run.results.len(),
        front.len(),
        run.rejections
    );
    for &i in front.iter().take(40) {
        let r = &run.results[i];
        println!(
            "  {} fp8 {:>4} PF {} x{:<2} sram {:>6} su {:>6} x{:<3} tdp {:>6} dies {} | {:>7.0} tok/s/chip {:>6.2} tok/J {:>6.3} $/Mtok capex {:>7.0} | {}",
            r.design.id(),
            r.design.fp8_pflops,
            r.design.memory,
            r.design.hbm_stacks,
            r.design.sram_mb,
            r.design.scaleup_gbps,
            r.design.scaleup_domain,
            r.design.tdp_w,
            r.design.compute_dies,
            r.score.tokens_per_s_per_chip,
            r.score.tokens_per_joule,
            r.score.usd_per_mtok,
            r.physical.capex_usd,
            r.score
                .models
                .iter()
                .map(|m| format!("{} {} b{} {:.1}ms", m.model, m.layout, m.batch, m.tpot_ms))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    for c in explorer.catalog_scores() {
        match &c.score {
            Some(s) => println!(
                "  catalog {:<24} {:>7.0} tok/s/chip {:>6.2} tok/J {:>6.3} $/Mtok",
                c.chip, s.tokens_per_s_per_chip, s.tokens_per_joule, s.usd_per_mtok
            ),
            None => println!("  catalog {:<24} rejected: {}", c.chip, c.rejection.clone().unwrap_or_default()),
        }
    }
}
