//! Tensor parallelism across scale-up domains: refused by default, allowed when asked for.
use tokenfab_catalog::Catalog;
use tokenfab_sim::{Deployment, DeploymentSpec};

#[test]
fn tp_across_boxes_needs_explicit_permission() {
    let cat = Catalog::builtin();
    let mut spec = DeploymentSpec::simple("hgx-h100-8", "llama-3.1-70b", 16, 1);
    let e = Deployment::resolve(&cat, &spec).unwrap_err().to_string();
    assert!(e.contains("scale-up domain"), "{e}");
    spec.allow_multi_domain_tp = true;
    let d = Deployment::resolve(&cat, &spec).unwrap();
    assert_eq!(d.pools[0].parallel.tp, 16);
    // Its all-reduces leave the NVLink domain, so a decode step costs more than at tp 8.
    let tp8 = Deployment::resolve(&cat, &DeploymentSpec::simple("hgx-h100-8", "llama-3.1-70b", 8, 1)).unwrap();
    let b = tokenfab_perf::BatchShape::decode(32, 2048);
    let comm16 = d.pools[0].step.cost(&b).class(tokenfab_perf::OpClass::Communication).time_s;
    let comm8 = tp8.pools[0].step.cost(&b).class(tokenfab_perf::OpClass::Communication).time_s;
    assert!(comm16 > comm8, "{comm16} vs {comm8}");
}
