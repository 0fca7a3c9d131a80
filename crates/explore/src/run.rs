//! Evaluating a space (or one shard of it) in parallel, merging shards, scoring catalog chips,
//! and the frontier analysis every output is written from.

use crate::cost::{Physical, physical, to_chip};
use crate::pareto::frontier;
use crate::screen::{Economics, Score, Workload, score};
use crate::space::{Design, Space};
use crate::{ExploreError, Rejection};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tokenfab_catalog::Catalog;
use tokenfab_perf::{Hardware, Params};

/// Format tag of shard files.
pub const SHARD_FORMAT: &str = "tokenfab-explore-shard/1";

/// A slice of the design list: every design whose position `p` satisfies `p % count == index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 0-based shard number.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

impl Shard {
    /// The whole space.
    pub const ALL: Shard = Shard { index: 0, count: 1 };
}

impl std::str::FromStr for Shard {
    type Err = String;
    /// Parses `I/N` with 0 ≤ I < N (0-based, like a Kubernetes completion index).
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("expected I/N with 0 <= I < N (e.g. 0/8), got `{s}`");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// One design that met every limit and SLO, with its score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignResult {
    /// The design point.
    pub design: Design,
    /// Area, power and cost.
    pub physical: Physical,
    /// Performance on the workload.
    pub score: Score,
}

/// Everything one shard (or a merged run) evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardFile {
    /// [`SHARD_FORMAT`].
    pub format: String,
    /// Space name.
    pub space: String,
    /// Digest of the space file and figures.
    pub space_digest: String,
    /// Where the space came from.
    pub space_origin: String,
    /// The space file's text (so `merge` needs nothing but the shard files).
    pub space_toml: String,
    /// Catalog ids of the models the workload resolved to.
    pub models: Vec<String>,
    /// Seed of the run.
    pub seed: u64,
    /// Which shard (0/1 for a whole or merged run).
    pub shard: Shard,
    /// Designs in the full space.
    pub designs_total: u64,
    /// Designs the run selects (all, or the sample).
    pub designs_selected: u64,
    /// Designs this shard evaluated.
    pub designs_evaluated: u64,
    /// Rejected designs per reason.
    pub rejections: BTreeMap<String, u64>,
    /// Feasible designs, by increasing index.
    pub results: Vec<DesignResult>,
}

/// A space with its workload resolved in a catalog, ready to evaluate designs.
#[derive(Debug, Clone)]
pub struct Explorer<'a> {
    /// The space.
    pub space: &'a Space,
    /// The catalog (models, and the chips compared against).
    pub catalog: &'a Catalog,
    /// The resolved workload.
    pub workload: Workload,
}

impl<'a> Explorer<'a> {
    /// Checks that a shard file was produced from this space and resolves to the same models
    /// in this catalog (a different `--catalog` would silently change the numbers).
    pub fn check_shard(&self, s: &ShardFile) -> Result<(), ExploreError> {
        let models: Vec<String> = self.workload.models.iter().map(|(m, _)| m.id.clone()).collect();
        if s.space_digest != self.space.digest() {
            return Err(ExploreError::Merge(format!(
                "shard files were made from space digest {}, but their embedded space now gives {} (different tokenfab version?)",
                s.space_digest,
                self.space.digest()
            )));
        }
        if s.models != models {
            return Err(ExploreError::Merge(format!(
                "shard files used models {:?}, this catalog resolves the workload to {:?}",
                s.models, models
            )));
        }
        Ok(())
    }

    /// Resolves the space's workload in the catalog.
    pub fn new(space: &'a Space, catalog: &'a Catalog) -> Result<Explorer<'a>, ExploreError> {
        let workload = Workload::resolve(&space.file.workload, catalog)
            .map_err(|m| ExploreError::Space { origin: space.origin.clone(), problems: vec![m] })?;
        Ok(Explorer { space, catalog, workload })
    }

    /// Evaluates one design of the space.
    pub fn evaluate(&self, index: u64) -> Result<DesignResult, Rejection> {
        let design = self.space.design(index);
        let c = &self.space.figures.cost;
        let mem = &self.space.figures.memory[&design.memory];
        let physical = physical(&design, c, mem)?;
        let chip = to_chip(&design, &physical, c, &self.space.file.name);
        let hw = Hardware::with_params(&chip, None, self.catalog, Params::analytical(&chip));
        let pinned = design.sram_mb * 1e6 * c.sram_weight_fraction;
        let score = score(&hw, pinned, &self.workload, &Economics::new(physical.capex_usd, c))?;
        Ok(DesignResult { design, physical, score })
    }

    /// Evaluates one shard in parallel; `progress` is called once per design evaluated.
    pub fn run(&self, seed: u64, shard: Shard, progress: &(dyn Fn() + Sync)) -> ShardFile {
        let all = self.space.indices(seed);
        let mine: Vec<u64> = all
            .iter()
            .enumerate()
            .filter(|(p, _)| (*p as u64) % shard.count as u64 == shard.index as u64)
            .map(|(_, i)| *i)
            .collect();
        let outcomes: Vec<Result<DesignResult, Rejection>> = mine
            .par_iter()
            .map(|&i| {
                let r = self.evaluate(i);
                progress();
                r
            })
            .collect();
        let mut rejections: BTreeMap<String, u64> = BTreeMap::new();
        let mut results = Vec::new();
        for o in outcomes {
            match o {
                Ok(r) => results.push(r),
                Err(why) => *rejections.entry(why.as_str().to_string()).or_default() += 1,
            }
        }
        ShardFile {
            format: SHARD_FORMAT.into(),
            space: self.space.file.name.clone(),
            space_digest: self.space.digest(),
            space_origin: self.space.origin.clone(),
            space_toml: self.space.text.clone(),
            models: self.workload.models.iter().map(|(m, _)| m.id.clone()).collect(),
            seed,
            shard,
            designs_total: self.space.size(),
            designs_selected: all.len() as u64,
            designs_evaluated: mine.len() as u64,
            rejections,
            results,
        }
    }

    /// Designs a shard would evaluate (for sizing a progress bar).
    pub fn shard_len(&self, seed: u64, shard: Shard) -> u64 {
        let n = self.space.indices(seed).len() as u64;
        n / shard.count as u64 + u64::from(n % shard.count as u64 > shard.index as u64)
    }

    /// Scores every catalog chip on the same workload (analytical parameters, sustained clocks,
    /// the chip's default system for the scale-up domain; no SRAM weight pinning).
    pub fn catalog_scores(&self) -> Vec<CatalogScore> {
        let c = &self.space.figures.cost;
        self.catalog
            .chips
            .values()
            .collect::<Vec<_>>()
            .par_iter()
            .map(|chip| {
                let system = self.catalog.default_system_for_chip(&chip.id);
                let hw = Hardware::with_params(chip, system, self.catalog, Params::analytical(chip));
                let (capex, capex_source) =
                    match (system.and_then(|s| s.price_usd.as_ref().map(|p| (s, p))), &chip.price_usd) {
                        (Some((s, p)), _) => (
                            Some(p.value / s.chips.value.max(1) as f64),
                            format!("system {} price / {} chips ({})", s.id, s.chips.value, p.source),
                        ),
                        (None, Some(p)) => (
                            Some(p.value + c.system_usd_per_chip),
                            format!("chip price ({}) + system share per chip (explore figure)", p.source),
                        ),
                        (None, None) => (None, "no price in the catalog".to_string()),
                    };
                let econ = Economics::new(capex.unwrap_or(0.0), c);
                match score(&hw, 0.0, &self.workload, &econ) {
                    Ok(mut s) => {
                        if capex.is_none() {
                            s.usd_per_mtok = f64::NAN;
                            for m in &mut s.models {
                                m.usd_per_mtok = f64::NAN;
                            }
                        }
                        CatalogScore {
                            chip: chip.id.clone(),
                            name: chip.name.clone(),
                            vendor: chip.vendor.clone(),
                            system: system.map(|s| s.id.clone()),
                            capex_usd: capex,
                            capex_source,
                            score: Some(s),
                            rejection: None,
                        }
                    }
                    Err(why) => CatalogScore {
                        chip: chip.id.clone(),
                        name: chip.name.clone(),
                        vendor: chip.vendor.clone(),
                        system: system.map(|s| s.id.clone()),
                        capex_usd: capex,
                        capex_source,
                        score: None,
                        rejection: Some(why.as_str().to_string()),
                    },
                }
            })
            .collect()
    }
}

/// A catalog chip scored on the workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogScore {
    /// Chip id.
    pub chip: String,
    /// Marketing name.
    pub name: String,
    /// Vendor.
    pub vendor: String,
    /// System used for the scale-up domain.
    pub system: Option<String>,
    /// Capital cost per chip, where the catalog has a price.
    pub capex_usd: Option<f64>,
    /// Where the capex comes from.
    pub capex_source: String,
    /// The score (`usd_per_mtok` is NaN without a price).
    pub score: Option<Score>,
    /// Why it could not serve the workload.
    pub rejection: Option<String>,
}

/// Joins shard files into one result covering the whole selection. Every shard `0..N` must
/// be present exactly once, all from the same space, seed and shard count.
pub fn merge(mut shards: Vec<ShardFile>) -> Result<ShardFile, ExploreError> {
    let bad = |m: String| ExploreError::Merge(m);
    let first = shards.first().ok_or_else(|| bad("no shard files given".into()))?.clone();
    let n = first.shard.count;
    for s in &shards {
        if s.format != SHARD_FORMAT {
            return Err(bad(format!(
                "shard {}/{}: format `{}`, expected `{SHARD_FORMAT}`",
                s.shard.index, s.shard.count, s.format
            )));
        }
        if s.space_digest != first.space_digest
            || s.seed != first.seed
            || s.shard.count != n
            || s.models != first.models
        {
            return Err(bad(format!(
                "shard {}/{} (space {} {}, seed {}) does not belong with shard {}/{} (space {} {}, seed {})",
                s.shard.index,
                s.shard.count,
                s.space,
                s.space_digest,
                s.seed,
                first.shard.index,
                n,
                first.space,
                first.space_digest,
                first.seed
            )));
        }
    }
    shards.sort_by_key(|s| s.shard.index);
    let have: Vec<u32> = shards.iter().map(|s| s.shard.index).collect();
    let want: Vec<u32> = (0..n).collect();
    if have != want {
        let missing: Vec<String> = want.iter().filter(|i| !have.contains(i)).map(|i| format!("{i}/{n}")).collect();
        let mut dup: Vec<String> = have.windows(2).filter(|w| w[0] == w[1]).map(|w| format!("{}/{n}", w[0])).collect();
        dup.dedup();
        return Err(bad(format!(
            "incomplete set of shards: missing [{}], duplicated [{}]",
            missing.join(", "),
            dup.join(", ")
        )));
    }
    let mut rejections: BTreeMap<String, u64> = BTreeMap::new();
    let mut results = Vec::new();
    let mut evaluated = 0;
    for s in shards {
        evaluated += s.designs_evaluated;
        for (k, v) in s.rejections {
            *rejections.entry(k).or_default() += v;
        }
        results.extend(s.results);
    }
    results.sort_by_key(|r| r.design.index);
    Ok(ShardFile {
        format: SHARD_FORMAT.into(),
        space: first.space,
        space_digest: first.space_digest,
        space_origin: first.space_origin,
        space_toml: first.space_toml,
        models: first.models,
        seed: first.seed,
        shard: Shard::ALL,
        designs_total: first.designs_total,
        designs_selected: first.designs_selected,
        designs_evaluated: evaluated,
        rejections,
        results,
    })
}

/// The frontier of a run: positions in `run.results` of the non-dominated designs
/// (tokens per joule ↑, USD per million tokens ↓), by increasing cost.
pub fn frontier_of(run: &ShardFile) -> Vec<usize> {
    let pts: Vec<(f64, f64)> = run.results.iter().map(|r| (r.score.tokens_per_joule, r.score.usd_per_mtok)).collect();
    frontier(&pts)
}

/// Every design's objectives, for tests and plots.
pub fn objectives(run: &ShardFile) -> Vec<(f64, f64)> {
    run.results.iter().map(|r| (r.score.tokens_per_joule, r.score.usd_per_mtok)).collect()
}

/// Convenience: the design result of a frontier position.
pub fn design_of(run: &ShardFile, pos: usize) -> &Design {
    &run.results[pos].design
}
