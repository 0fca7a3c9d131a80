//! `tokenfab catalog`: list, show, schema, import-hf.
//!
//! - `catalog list [chips|systems|fabrics|models] [--json]`: one table per kind (all kinds by default).
//! - `catalog show ID [--json]`: every figure of one entry with unit, confidence and source; for
//!   models the architecture and derived sizes (parameters, KV bytes per token).
//! - `catalog import-hf CONFIG.json [--id ID] [--source URL]`: a Hugging Face `config.json` as a
//!   `[[model]]` TOML entry on stdout, ready for `--catalog FILE`.
//! - `catalog schema`: JSON Schema of catalog files.
use anyhow::{Context, Result, bail};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;
use tokenfab_catalog::{
    Attention, Catalog, CatalogFile, Chip, Dtype, Fabric, FabricKind, Figure, Model, System, SystemKind,
};

/// Flags of `tokenfab catalog`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

/// `writeln!` into a `String` (which cannot fail); output is written once, at the end, so a
/// closed pipe is an IO error the caller handles rather than a panic in `println!`.
macro_rules! outln {
    ($o:expr) => {
        $o.push('\n')
    };
    ($o:expr, $($t:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($o, $($t)*);
    }};
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// List catalog entries as a table (all kinds unless one is named).
    List {
        /// chips, systems, fabrics or models.
        kind: Option<Kind>,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Show one entry (chip, system, fabric or model; id or alias) with every figure's source.
    Show {
        /// Id or alias, e.g. `h100-sxm`, `gb200-nvl72`, `deepseek-ai/DeepSeek-R1`.
        id: String,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Print the JSON Schema of catalog files.
    Schema,
    /// Convert a Hugging Face config.json into a `[[model]]` TOML entry (printed to stdout).
    ImportHf {
        /// Path of the config.json.
        config: PathBuf,
        /// Catalog id for the model (default: from `_name_or_path`, lower-cased, without the org).
        #[arg(long)]
        id: Option<String>,
        /// Where the config came from, e.g. its Hugging Face URL (default: the file path).
        #[arg(long)]
        source: Option<String>,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    #[value(alias = "chip")]
    Chips,
    #[value(alias = "system")]
    Systems,
    #[value(alias = "fabric")]
    Fabrics,
    #[value(alias = "model")]
    Models,
}

const ALL_KINDS: [Kind; 4] = [Kind::Chips, Kind::Systems, Kind::Fabrics, Kind::Models];

pub fn run(catalog: &Catalog, args: Args) -> Result<ExitCode> {
    let mut out = String::new();
    match args.command {
        Sub::Schema => outln!(out, "{}", serde_json::to_string_pretty(&tokenfab_catalog::json_schema())?),
        Sub::List { kind, json } => list(&mut out, catalog, kind, json)?,
        Sub::Show { id, json } => show(&mut out, catalog, &id, json)?,
        Sub::ImportHf { config, id, source } => out = import_hf(&config, id.as_deref(), source.as_deref())?,
    }
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header.iter().copied());
    t
}

/// A number without a trailing `.0`, with at most `digits` decimals.
fn num(v: f64, digits: usize) -> String {
    let s = format!("{v:.digits$}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

fn opt_num(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |v| num(v, digits))
}

// ---------------------------------------------------------------------------------------------
// list

fn list(out: &mut String, catalog: &Catalog, kind: Option<Kind>, json: bool) -> Result<()> {
    let kinds: Vec<Kind> = kind.map_or(ALL_KINDS.to_vec(), |k| vec![k]);
    if json {
        let mut by_kind = serde_json::Map::new();
        for k in &kinds {
            let v = match k {
                Kind::Chips => serde_json::to_value(catalog.chips.values().collect::<Vec<_>>())?,
                Kind::Systems => serde_json::to_value(catalog.systems.values().collect::<Vec<_>>())?,
                Kind::Fabrics => serde_json::to_value(catalog.fabrics.values().collect::<Vec<_>>())?,
                Kind::Models => serde_json::to_value(catalog.models.values().map(model_json).collect::<Vec<_>>())?,
            };
            by_kind.insert(kind_name(*k).to_string(), v);
        }
        // One kind: the array itself; all kinds: an object keyed by kind.
        let v = if kinds.len() == 1 {
            by_kind.into_iter().next().map(|(_, v)| v).unwrap_or(Value::Null)
        } else {
            by_kind.into()
        };
        outln!(out, "{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    for (i, k) in kinds.iter().enumerate() {
        if kinds.len() > 1 {
            if i > 0 {
                outln!(out);
            }
            outln!(out, "{}", kind_name(*k));
        }
        let t = match k {
            Kind::Chips => chips_table(catalog),
            Kind::Systems => systems_table(catalog),
            Kind::Fabrics => fabrics_table(catalog),
            Kind::Models => models_table(catalog),
        };
        outln!(out, "{t}");
    }
    Ok(())
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Chips => "chips",
        Kind::Systems => "systems",
        Kind::Fabrics => "fabrics",
        Kind::Models => "models",
    }
}

fn chips_table(catalog: &Catalog) -> Table {
    let mut t = table(&[
        "id",
        "name",
        "status",
        "bf16 TFLOP/s",
        "fp8 TFLOP/s",
        "fp4 TFLOP/s",
        "HBM GB",
        "HBM TB/s",
        "scale-up GB/s",
        "domain",
        "scale-out GB/s",
        "TDP W",
        "estimates",
    ]);
    for c in catalog.chips.values() {
        let p = &c.peak_dense_tflops;
        let figures = c.figures();
        let estimates = figures.iter().filter(|f| f.confidence == tokenfab_catalog::Confidence::Estimate).count();
        t.add_row(vec![
            c.id.clone(),
            c.name.clone(),
            status_name(c),
            num(p.bf16.value, 1),
            opt_num(p.fp8.as_ref().map(|f| f.value), 1),
            opt_num(p.fp4.as_ref().map(|f| f.value), 1),
            num(c.hbm_capacity_gb.value, 1),
            num(c.hbm_bandwidth_tbps.value, 3),
            num(c.scaleup_bandwidth_gbps.value, 1),
            c.scaleup_domain_chips.value.to_string(),
            num(c.scaleout_bandwidth_gbps.value, 1),
            num(c.tdp_w.value, 0),
            format!("{estimates}/{}", figures.len()),
        ]);
    }
    t
}

fn status_name(c: &Chip) -> String {
    serde_json::to_value(c.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn systems_table(catalog: &Catalog) -> Table {
    let mut t = table(&[
        "id",
        "chip",
        "kind",
        "chips",
        "domain",
        "scale-up",
        "scale-out",
        "power kW",
        "per rack",
        "available",
        "default",
    ]);
    for s in catalog.systems.values() {
        t.add_row(vec![
            s.id.clone(),
            s.chip.clone(),
            system_kind(s).to_string(),
            s.chips.value.to_string(),
            s.scaleup_domain_chips.value.to_string(),
            s.scaleup_fabric.clone().unwrap_or_else(|| "-".into()),
            s.scaleout_fabric.clone().unwrap_or_else(|| "-".into()),
            num(s.system_power_kw.value, 1),
            num(s.systems_per_rack.value, 4),
            s.available.as_ref().map_or_else(|| "-".into(), |a| a.value.clone()),
            if s.default_for_chip { "yes".into() } else { String::new() },
        ]);
    }
    t
}

fn system_kind(s: &System) -> &'static str {
    match s.kind {
        SystemKind::Node => "node",
        SystemKind::Rack => "rack",
        SystemKind::Pod => "pod",
    }
}

fn fabric_kind(f: &Fabric) -> &'static str {
    match f.kind {
        FabricKind::ScaleUp => "scale-up",
        FabricKind::ScaleOut => "scale-out",
    }
}

fn fabrics_table(catalog: &Catalog) -> Table {
    let mut t = table(&["id", "name", "kind", "GB/s per dir", "latency us", "switch Tb/s", "switch W"]);
    for f in catalog.fabrics.values() {
        t.add_row(vec![
            f.id.clone(),
            f.name.clone(),
            fabric_kind(f).to_string(),
            num(f.bandwidth_gbps.value, 1),
            num(f.latency_us.value, 2),
            opt_num(f.switch_capacity_tbit_s.as_ref().map(|x| x.value), 1),
            opt_num(f.switch_power_w.as_ref().map(|x| x.value), 0),
        ]);
    }
    t
}

fn attention_summary(m: &Model) -> String {
    let mut s = match &m.attention {
        Attention::Gqa => format!("GQA {}/{}x{}", m.num_attention_heads, m.num_kv_heads, m.head_dim),
        Attention::Mla(a) => format!("MLA {}h kv{}", m.num_attention_heads, a.kv_lora_rank + a.qk_rope_head_dim),
    };
    if let Some(l) = &m.linear_attention {
        s.push_str(&format!(" + {} linear", l.layers));
    }
    if let Some(w) = &m.sliding_window {
        s.push_str(&format!(" + {} SWA{}", w.layers, w.window));
    }
    if m.sparse_attention.is_some() {
        s.push_str(" + DSA");
    }
    s
}

fn moe_summary(m: &Model) -> String {
    match &m.moe {
        None => "dense".into(),
        Some(e) if e.num_shared_experts > 0 => {
            format!("{}x top-{} +{} shared", e.num_experts, e.experts_per_token, e.num_shared_experts)
        }
        Some(e) => format!("{}x top-{}", e.num_experts, e.experts_per_token),
    }
}

fn models_table(catalog: &Catalog) -> Table {
    let mut t = table(&[
        "id",
        "layers",
        "hidden",
        "attention",
        "FFN",
        "total B",
        "active B",
        "KV KiB/token bf16",
        "context",
        "weights",
        "confidence",
    ]);
    for m in catalog.models.values() {
        t.add_row(vec![
            m.id.clone(),
            m.num_layers.to_string(),
            m.hidden_size.to_string(),
            attention_summary(m),
            moe_summary(m),
            num(m.total_params() / 1e9, 2),
            num(m.active_params() / 1e9, 2),
            num(m.kv_bytes_per_token(Dtype::Bf16) / 1024.0, 1),
            m.max_context.to_string(),
            m.native_dtype.to_string(),
            m.confidence.as_str().to_string(),
        ]);
    }
    t
}

// ---------------------------------------------------------------------------------------------
// show

/// What an id names: exact ids win over aliases; chips, systems, fabrics, models in that order.
enum Entry<'a> {
    Chip(&'a Chip),
    System(&'a System),
    Fabric(&'a Fabric),
    Model(&'a Model),
}

fn resolve<'a>(catalog: &'a Catalog, id: &str) -> Result<Entry<'a>> {
    let want = id.trim().to_ascii_lowercase();
    if let Some((_, c)) = catalog.chips.iter().find(|(k, _)| k.to_ascii_lowercase() == want) {
        return Ok(Entry::Chip(c));
    }
    if let Some((_, s)) = catalog.systems.iter().find(|(k, _)| k.to_ascii_lowercase() == want) {
        return Ok(Entry::System(s));
    }
    if let Some((_, f)) = catalog.fabrics.iter().find(|(k, _)| k.to_ascii_lowercase() == want) {
        return Ok(Entry::Fabric(f));
    }
    if let Some((_, m)) = catalog.models.iter().find(|(k, _)| k.to_ascii_lowercase() == want) {
        return Ok(Entry::Model(m));
    }
    if let Ok(c) = catalog.chip(id) {
        return Ok(Entry::Chip(c));
    }
    if let Ok(s) = catalog.system(id) {
        return Ok(Entry::System(s));
    }
    if let Ok(f) = catalog.fabric(id) {
        return Ok(Entry::Fabric(f));
    }
    if let Ok(m) = catalog.model(id) {
        return Ok(Entry::Model(m));
    }
    bail!("no chip, system, fabric or model is called `{id}` (try `tokenfab catalog list`)")
}

fn show(out: &mut String, catalog: &Catalog, id: &str, json: bool) -> Result<()> {
    let entry = resolve(catalog, id)?;
    if json {
        let v = match entry {
            Entry::Chip(c) => json!({"kind": "chip", "entry": c, "figures": c.figures(), "origin": c.origin}),
            Entry::System(s) => json!({"kind": "system", "entry": s, "figures": s.figures(),
                "derived": system_derived(catalog, s).into_iter().map(|(k, v, u)| json!({"name": k, "value": v, "unit": u})).collect::<Vec<_>>(),
                "origin": s.origin}),
            Entry::Fabric(f) => json!({"kind": "fabric", "entry": f, "figures": f.figures(), "origin": f.origin}),
            Entry::Model(m) => json!({"kind": "model", "entry": m, "derived": derived_json(m), "origin": m.origin}),
        };
        outln!(out, "{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    match entry {
        Entry::Chip(c) => {
            let mut head = vec![
                ("chip", c.id.clone()),
                ("name", c.name.clone()),
                ("vendor", c.vendor.clone()),
                ("status", status_name(c)),
            ];
            if !c.aliases.is_empty() {
                head.push(("aliases", c.aliases.join(", ")));
            }
            if let Some(s) = catalog.default_system_for_chip(&c.id) {
                head.push(("default system", s.id.clone()));
            }
            head.push(("from", c.origin.clone()));
            print_head(out, &head, c.notes.as_deref());
            outln!(out, "{}", figures_table(&c.figures()));
        }
        Entry::System(s) => {
            let mut head = vec![
                ("system", s.id.clone()),
                ("name", s.name.clone()),
                ("vendor", s.vendor.clone()),
                ("kind", system_kind(s).to_string()),
                ("chip", s.chip.clone()),
                ("default for chip", if s.default_for_chip { "yes" } else { "no" }.to_string()),
            ];
            if !s.aliases.is_empty() {
                head.push(("aliases", s.aliases.join(", ")));
            }
            head.push(("scale-up fabric", s.scaleup_fabric.clone().unwrap_or_else(|| "-".into())));
            head.push(("scale-out fabric", s.scaleout_fabric.clone().unwrap_or_else(|| "-".into())));
            head.push(("from", s.origin.clone()));
            print_head(out, &head, s.notes.as_deref());
            outln!(out, "{}", figures_table(&s.figures()));
            let mut d = table(&["derived", "value", "unit"]);
            for (k, v, u) in system_derived(catalog, s) {
                d.add_row(vec![k.to_string(), num(v, 3), u.to_string()]);
            }
            outln!(out, "{d}");
        }
        Entry::Fabric(f) => {
            let mut head =
                vec![("fabric", f.id.clone()), ("name", f.name.clone()), ("kind", fabric_kind(f).to_string())];
            if !f.aliases.is_empty() {
                head.push(("aliases", f.aliases.join(", ")));
            }
            head.push(("from", f.origin.clone()));
            print_head(out, &head, f.notes.as_deref());
            outln!(out, "{}", figures_table(&f.figures()));
        }
        Entry::Model(m) => show_model(out, m),
    }
    Ok(())
}

/// Whole-system figures derived from the chip's: aggregate peaks and memory, power per chip.
fn system_derived(catalog: &Catalog, s: &System) -> Vec<(&'static str, f64, &'static str)> {
    let n = s.chips.value as f64;
    let mut v = Vec::new();
    if let Ok(c) = catalog.chip(&s.chip) {
        for (name, dtype) in
            [("dense bf16 peak", Dtype::Bf16), ("dense fp8 peak", Dtype::Fp8), ("dense fp4 peak", Dtype::Fp4)]
        {
            if let Some(p) = c.peak_flops(dtype) {
                v.push((name, n * p / 1e15, "PFLOP/s"));
            }
        }
        v.push(("HBM capacity", n * c.hbm_capacity_gb.value / 1e3, "TB"));
        v.push(("HBM bandwidth", n * c.hbm_bandwidth_tbps.value, "TB/s"));
        v.push(("chips at TDP", n * c.tdp_w.value / 1e3, "kW"));
    }
    v.push(("IT power per chip (all-in)", s.system_power_kw.value * 1e3 / n.max(1.0), "W"));
    v.push(("systems per MW of IT power", 1e3 / s.system_power_kw.value, "systems"));
    v
}

fn print_head(out: &mut String, rows: &[(&str, String)], notes: Option<&str>) {
    let w = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in rows {
        outln!(out, "{k:<w$}  {v}");
    }
    if let Some(n) = notes {
        outln!(out, "{:<w$}  {n}", "notes");
    }
}

fn figures_table(figures: &[Figure]) -> Table {
    let mut t = table(&["field", "value", "unit", "confidence", "source", "note"]);
    for f in figures {
        let value = match &f.value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), |x| num(x, 3)),
            other => other.to_string(),
        };
        t.add_row(vec![
            f.field.to_string(),
            value,
            f.unit.to_string(),
            f.confidence.as_str().to_string(),
            f.source.clone(),
            f.note.clone().unwrap_or_default(),
        ]);
    }
    t
}

fn derived_json(m: &Model) -> Value {
    json!({
        "total_params": m.total_params(),
        "active_params": m.active_params(),
        "active_params_excluding_embedding": m.active_params_excluding_embedding(),
        "kv_bytes_per_token_bf16": m.kv_bytes_per_token(Dtype::Bf16),
        "kv_bytes_per_token_fp8": m.kv_bytes_per_token(Dtype::Fp8),
        "linear_state_bytes_per_seq": m.linear_state_bytes_per_seq(),
        "softmax_attention_layers": m.softmax_attention_layers(),
        "moe_layers": m.moe_layers(),
    })
}

fn model_json(m: &Model) -> Value {
    let mut v = serde_json::to_value(m).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut v {
        o.insert("derived".into(), derived_json(m));
    }
    v
}

fn show_model(out: &mut String, m: &Model) {
    let mut head = vec![("model", m.id.clone()), ("name", m.name.clone())];
    if !m.aliases.is_empty() {
        head.push(("aliases", m.aliases.join(", ")));
    }
    head.push(("source", m.source.clone()));
    head.push(("confidence", m.confidence.as_str().to_string()));
    head.push(("from", m.origin.clone()));
    print_head(out, &head, m.notes.as_deref());

    let mut arch = table(&["architecture", "value"]);
    let mut row = |k: &str, v: String| {
        arch.add_row(vec![k.to_string(), v]);
    };
    row("layers", m.num_layers.to_string());
    row("hidden_size", m.hidden_size.to_string());
    row("vocab_size", m.vocab_size.to_string());
    row("attention", attention_summary(m));
    row("heads (q / kv) x head_dim", format!("{} / {} x {}", m.num_attention_heads, m.num_kv_heads, m.head_dim));
    if let Attention::Mla(a) = &m.attention {
        row(
            "mla",
            format!(
                "q_lora {}, kv_lora {}, qk {}+{} (nope+rope), v {}",
                a.q_lora_rank.map_or("-".to_string(), |r| r.to_string()),
                a.kv_lora_rank,
                a.qk_nope_head_dim,
                a.qk_rope_head_dim,
                a.v_head_dim
            ),
        );
    }
    if m.attn_output_gate {
        row("attention output gate", "yes".into());
    }
    if let Some(s) = &m.sparse_attention {
        row(
            "sparse attention (DSA)",
            format!("indexer {} x {}, top-{}", s.index_n_heads, s.index_head_dim, s.index_topk),
        );
    }
    if let Some(l) = &m.linear_attention {
        row(
            "linear attention",
            format!(
                "{} layers, {} key x {} / {} value x {} heads",
                l.layers, l.num_key_heads, l.key_head_dim, l.num_value_heads, l.value_head_dim
            ),
        );
    }
    if let Some(w) = &m.sliding_window {
        row("sliding window", format!("{} layers, {} tokens", w.layers, w.window));
    }
    row("ffn", format!("{}{}", moe_summary(m), if m.ffn_gated { ", gated (SwiGLU)" } else { "" }));
    if m.intermediate_size > 0 && m.dense_layers() > 0 {
        row("dense intermediate", format!("{} ({} layers)", m.intermediate_size, m.dense_layers()));
    }
    if let Some(e) = &m.moe {
        row("expert intermediate", format!("{} ({} MoE layers)", e.expert_intermediate_size, m.moe_layers()));
        if e.num_shared_experts > 0 {
            row(
                "shared expert intermediate",
                e.shared_expert_intermediate_size.unwrap_or(e.expert_intermediate_size).to_string(),
            );
        }
    }
    if m.mtp_layers > 0 {
        row("mtp layers", m.mtp_layers.to_string());
    }
    row("tied embeddings", if m.tie_word_embeddings { "yes" } else { "no" }.to_string());
    row("max context", m.max_context.to_string());
    row("native weights", m.native_dtype.to_string());
    outln!(out, "{arch}");

    let mut d = table(&["derived", "value", "unit"]);
    let mut drow = |k: &str, v: String, u: &str| {
        d.add_row(vec![k.to_string(), v, u.to_string()]);
    };
    drow("total parameters", num(m.total_params() / 1e9, 2), "B");
    drow("active parameters", num(m.active_params() / 1e9, 2), "B");
    drow("active excluding input embedding", num(m.active_params_excluding_embedding() / 1e9, 2), "B");
    drow("KV cache per token (bf16)", num(m.kv_bytes_per_token(Dtype::Bf16), 0), "bytes");
    drow("KV cache per token (fp8)", num(m.kv_bytes_per_token(Dtype::Fp8), 0), "bytes");
    if m.linear_attention.is_some() {
        drow("linear-attention state per sequence (fp32)", num(m.linear_state_bytes_per_seq(), 0), "bytes");
    }
    drow(
        "weights at native dtype",
        num(m.total_params() * m.native_dtype.bytes() / 1e9, 1),
        "GB (all weights in that format)",
    );
    outln!(out, "{d}");
}

// ---------------------------------------------------------------------------------------------
// import-hf

fn default_id(text: &str) -> Option<String> {
    let v: Value = serde_json::from_str(text).ok()?;
    let name = v.get("_name_or_path").and_then(Value::as_str)?;
    let last = name.trim_end_matches('/').rsplit('/').next()?.trim();
    (!last.is_empty()).then(|| last.to_ascii_lowercase())
}

fn import_hf(path: &std::path::Path, id: Option<&str>, source: Option<&str>) -> Result<String> {
    let text = crate::io::read_text(path)?;
    let file = path.display().to_string();
    let id = match id {
        Some(id) => id.to_string(),
        None => {
            default_id(&text).with_context(|| format!("{file}: no `_name_or_path` to name the model; pass --id ID"))?
        }
    };
    let source = source.unwrap_or(&file);
    let mut model = tokenfab_catalog::import_hf_config(&file, &text, &id, source)?;
    // An `org/name` Hugging Face id (not a local path) becomes an alias.
    let hf_like = model.name.matches('/').count() == 1 && !model.name.starts_with(['/', '.', '~']);
    if hf_like && !model.aliases.contains(&model.name) {
        model.aliases.push(model.name.clone());
    }
    let entry = toml::to_string(&CatalogFile { models: vec![model.clone()], ..CatalogFile::default() })
        .with_context(|| format!("{file}: cannot write the model as TOML"))?;
    // The entry must load back exactly as it would from a user file.
    Catalog::default()
        .with_file_text("import-hf output", &entry)
        .map_err(|e| anyhow::anyhow!("{file}: the imported model does not validate: {e}"))?;
    Ok(format!(
        "# Imported by `tokenfab catalog import-hf {file}`.\n\
         # {total:.2} B parameters ({active:.2} B active), {kv} KV bytes per token at bf16.\n\
         # Check it, save it to a file and pass it with `tokenfab --catalog FILE ...`.\n\n{entry}",
        total = model.total_params() / 1e9,
        active = model.active_params() / 1e9,
        kv = model.kv_bytes_per_token(Dtype::Bf16),
    ))
}
