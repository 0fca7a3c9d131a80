//! File IO at the edge: reading inputs with clear errors, writing outputs atomically.

use anyhow::{Context, Result};
use std::path::Path;
use tokenfab_catalog::Catalog;
use tokenfab_report::{RecordedFile, RunRecord, sha256_hex};

/// The catalog files this process loaded (`--catalog`), with their digests, for `run.toml`.
static CATALOG_FILES: std::sync::OnceLock<Vec<RecordedFile>> = std::sync::OnceLock::new();

/// The built-in catalog plus the user's files, in order.
pub fn load_catalog(files: &[std::path::PathBuf]) -> Result<Catalog> {
    let mut cat = Catalog::try_builtin().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut recorded = Vec::with_capacity(files.len());
    for f in files {
        let text = read_text(f)?;
        recorded.push(RecordedFile { path: f.display().to_string(), sha256: sha256_hex(text.as_bytes()) });
        cat = cat.with_file_text(&f.display().to_string(), &text).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    // Set once per process (main loads the catalog once); a second load keeps the first record.
    let _ = CATALOG_FILES.set(recorded);
    Ok(cat)
}

/// The `--catalog` files loaded by [`load_catalog`], as `run.toml` records them.
pub fn catalog_files() -> Vec<RecordedFile> {
    CATALOG_FILES.get().cloned().unwrap_or_default()
}

/// A run record for `command`: this binary's version and git revision, the catalog files.
pub fn run_record(command: &str, seed: u64, inputs: toml::Table) -> RunRecord {
    RunRecord {
        command: command.into(),
        tokenfab_version: env!("CARGO_PKG_VERSION").into(),
        git_revision: option_env!("TOKENFAB_GIT_REVISION").map(String::from),
        seed,
        catalog_files: catalog_files(),
        inputs,
    }
}

/// Lowercase hex SHA-256 of a file's bytes, read in chunks (traces can be large).
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::Digest as _;
    use std::io::Read as _;
    let mut f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Reads a UTF-8 text file, naming it in the error.
pub fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Writes a file atomically: a temporary file in the same directory, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create directory {}", dir.display()))?;
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot move {} into place as {}", tmp.display(), path.display()))?;
    Ok(())
}
