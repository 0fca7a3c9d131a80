//! Bad input never panics: every example scenario with one number replaced by an extreme value
//! (zero, negative, huge, fractional, NaN, a string) either resolves and runs, or stops with an
//! error naming a field or a limit. Each run is kept small by tight `[limits]`, so a mutation
//! that asks for endless work ends at a limit instead of running on.
//!
//! A failing case prints the file, the number and its replacement.

use proptest::prelude::*;
use std::path::Path;
use tokenfab_catalog::Catalog;
use tokenfab_sim::SimError;
use tokenfab_sim::scenario::{Resolved, Scenario};

/// Appended to every mutated scenario (none of the examples sets `[limits]`).
const LIMITS: &str = "\n[limits]\nmax_in_flight = 2000\nmax_engine_iterations = 20000\n";

const VALUES: &[&str] =
    &["0", "-1", "1", "3", "0.5", "1e-9", "1e300", "-1e300", "4294967296", "18446744073709551616", "nan", "\"x\""];

fn examples() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut v: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| (p.display().to_string(), std::fs::read_to_string(&p).unwrap()))
        // Trace replays are read by the caller (the CLI), not by the library.
        .filter(|(_, t)| t.contains("[deployment]") && !t.contains("[limits]\n") && !t.contains("trace = "))
        .collect();
    v.sort();
    v
}

/// Byte ranges of the numbers in `text` that are values: after a `=`, outside strings and
/// comments.
fn numbers(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let code = line.split('#').next().unwrap_or("");
        let b = code.as_bytes();
        let mut i = 0;
        let mut in_string = false;
        while i < b.len() {
            if b[i] == b'"' {
                in_string = !in_string;
            }
            let starts =
                !in_string && b[i].is_ascii_digit() && (i == 0 || matches!(b[i - 1], b' ' | b'=' | b'[' | b',' | b'-'));
            if starts {
                let mut j = i;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'.' || b[j] == b'_') {
                    j += 1;
                }
                let s = if i > 0 && b[i - 1] == b'-' { i - 1 } else { i };
                // Only values (after `=` or inside an array/table), not parts of names.
                if code[..s].contains('=') {
                    out.push((line_start + s, line_start + j));
                }
                i = j;
            } else {
                i += 1;
            }
        }
        line_start += line.len();
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn one_extreme_number_never_panics(file in any::<prop::sample::Index>(), at in any::<prop::sample::Index>(), value in prop::sample::select(VALUES)) {
        let ex = examples();
        prop_assume!(!ex.is_empty());
        let (name, text) = &ex[file.index(ex.len())];
        let spans = numbers(text);
        prop_assume!(!spans.is_empty());
        let (a, b) = spans[at.index(spans.len())];
        let mutated = format!("{}{}{}{}", &text[..a], value, &text[b..], LIMITS);
        let cat = Catalog::builtin();
        let outcome = Scenario::from_toml(name, &mutated)
            .and_then(|s| Resolved::new(name, &s, &cat))
            .and_then(|r| r.execute(0, None, &|_| {}).map(|_| ()));
        match outcome {
            Ok(()) => {}
            // A field error names the file and a dotted field; a syntax error the file.
            Err(SimError::Field { field, message }) => {
                prop_assert!(field.contains(name.as_str()) && !message.is_empty(), "{}: {}", field, message);
            }
            Err(SimError::Syntax(m)) => prop_assert!(m.contains(name.as_str()), "{}", m),
            // Runs stopped by a bound say which one to raise.
            Err(SimError::Limit(m)) => prop_assert!(m.contains("limits."), "{}", m),
            Err(e @ SimError::Invariant(_)) => {
                prop_assert!(false, "{} with `{}` replaced by {}: {}", name, &text[a..b], value, e)
            }
        }
    }
}

#[test]
fn the_mutation_sites_are_values() {
    let text = "a = 1\nb = { c = -2.5, d = [3, 4] } # 5\ne-f = \"x9\"\ng = \"llama-3.1-8b\"\n";
    let spans = numbers(text);
    let got: Vec<&str> = spans.iter().map(|&(a, b)| &text[a..b]).collect();
    assert_eq!(got, ["1", "-2.5", "3", "4"]);
    assert!(!examples().is_empty());
}
