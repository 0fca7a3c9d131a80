//! File IO at the edge: reading inputs with clear errors, writing outputs atomically.

use anyhow::{Context, Result};
use std::path::Path;
use tokenfab_catalog::Catalog;

/// The built-in catalog plus the user's files, in order.
pub fn load_catalog(files: &[std::path::PathBuf]) -> Result<Catalog> {
    let mut cat = Catalog::try_builtin().map_err(|e| anyhow::anyhow!("{e}"))?;
    for f in files {
        let text = read_text(f)?;
        cat = cat.with_file_text(&f.display().to_string(), &text).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(cat)
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
