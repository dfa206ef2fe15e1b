//! What every benchmark hands back: a table for people and JSON for `bench-results/<name>.json`.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

/// One benchmark's result: its rows as a table, and the same rows (plus anything else) as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub name: &'static str,
    pub title: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Free text under the table: conditions, what a "missed" means.
    pub notes: Vec<String>,
    /// The measurements in machine-readable form.
    pub data: Value,
}

impl Report {
    pub fn new(name: &'static str, title: impl Into<String>, headers: &[&str]) -> Self {
        Self {
            name,
            title: title.into(),
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
            notes: Vec::new(),
            data: Value::Null,
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(
            cells.len(),
            self.headers.len(),
            "{}: a row must fill every column",
            self.name
        );
        self.rows.push(cells);
    }

    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// The table as Markdown (readable in a terminal, pasteable into docs/performance.md).
    pub fn table(&self) -> String {
        let mut out = format!("## {}\n\n", self.title);
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        out.push_str(&line(&self.headers));
        out.push_str(&line(&vec!["---".to_owned(); self.headers.len()]));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        for note in &self.notes {
            out.push_str(&format!("\n{note}\n"));
        }
        out
    }

    /// Writes `<dir>/<name>.json` and returns its path.
    pub fn save(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{}.json", self.name));
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&path, json + "\n")?;
        Ok(path)
    }
}

/// The repository root (this crate lives at `crates/bench`).
pub fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::canonicalize(&root).unwrap_or(root)
}

/// "met" or "MISSED", for the target column.
pub fn verdict(met: bool) -> String {
    if met { "met" } else { "MISSED" }.to_owned()
}

/// Milliseconds with one decimal.
pub fn ms(d: std::time::Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// The median of some durations (the upper one of the middle two for an even count).
pub fn median(mut samples: Vec<std::time::Duration>) -> std::time::Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}
