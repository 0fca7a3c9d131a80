use tokenfab_catalog::Catalog;
use tokenfab_plan::*;

#[test]
fn example_small_runs() {
    let catalog = Catalog::builtin();
    let s = Scenario::from_toml("example", EXAMPLE_SMALL).unwrap();
    assert_eq!(s.validate("example", &catalog), vec![]);
    let mut cache = CapacityCache::default();
    let p = plan(&s, &WhatIf::default(), &catalog, &AnalyticCapacity::default(), &mut cache).unwrap();
    println!("{}", serde_json::to_string_pretty(&p).unwrap());
}
