//! `model install | list`: the local embedding models in the models directory.

mod install;

use std::{
    io::Write as _,
    path::{Path, PathBuf},
};

use anyhow::Context as _;
use clap::Subcommand;
use memory_cli::embedder::DEFAULT_MODEL;
use memory_core::BertModelInfo;
use serde::Serialize;

use crate::{GlobalArgs, output::Format};

/// `memory-cli model ...`.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Install a BERT sentence-transformers model from a directory or an http(s) URL into the models directory.
    ///
    /// The files read are config.json, tokenizer.json and model.safetensors, and where present modules.json,
    /// the pooling module's config.json (1_Pooling/config.json) and sentence_bert_config.json; from a URL
    /// each is fetched as URL/FILE. The model must load and embed a sentence before it is moved into place.
    Install {
        /// A model directory, or the URL under which its files are served.
        source: String,
        /// The name to install it under [default: the directory's name or the URL's last segment].
        #[arg(long)]
        name: Option<String>,
    },
    /// List the installed models: name, dimension, size on disk, and the default: the one embedding commands use
    /// with these options.
    List,
}

/// Runs a `model` command and prints its result.
pub async fn run(command: ModelCommand, global: &GlobalArgs) -> anyhow::Result<()> {
    let models = global.store.embedder.models_dir()?;
    let text = match command {
        ModelCommand::Install { source, name } => {
            let installed = tokio::task::spawn_blocking(move || {
                install::install(&source, name.as_deref(), &models)
            })
            .await??;
            match global.plain_format()? {
                Format::Json => crate::output::json(&installed)?,
                Format::Human => format!(
                    "installed {} ({}, {} dimensions, {}) in {}\n",
                    installed.name,
                    installed.id.as_deref().unwrap_or("-"),
                    installed.dimension.unwrap_or(0),
                    size(installed.size_bytes),
                    installed.path.display()
                ),
            }
        }
        ModelCommand::List => {
            let selected = selected_model(global)?;
            let listed = tokio::task::spawn_blocking(move || list(&models, selected)).await??;
            match global.plain_format()? {
                Format::Json => crate::output::json(&listed)?,
                Format::Human => table(&listed, &global.store.embedder.models_dir()?),
            }
        }
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// One installed model, as `model install` and `model list` report it.
#[derive(Debug, Serialize)]
pub struct Installed {
    /// Its name (the directory's).
    pub name: String,
    /// The embedder id its vectors are stored under; absent when the model cannot be read.
    pub id: Option<String>,
    /// Vector length; absent when the model cannot be read.
    pub dimension: Option<usize>,
    /// Bytes on disk.
    pub size_bytes: u64,
    /// Its directory.
    pub path: PathBuf,
    /// Whether embedding commands use it with the options given (`--embedder` / `MEMORY_EMBEDDER`, else
    /// all-MiniLM-L6-v2).
    pub default: bool,
    /// Why it cannot be used, if it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The installed model's directory that embedding commands would use, if they would use one.
fn selected_model(global: &GlobalArgs) -> anyhow::Result<Option<PathBuf>> {
    let models = global.store.embedder.models_dir()?;
    let chosen = match global.store.embedder.spec() {
        None => Some(models.join(DEFAULT_MODEL)),
        Some("lexical" | "http") => None,
        Some(spec) => Some(match spec.strip_prefix("model:") {
            Some(name) => models.join(name),
            None => PathBuf::from(spec),
        }),
    };
    // A model directory may be named by another path to it.
    Ok(chosen.map(|path| path.canonicalize().unwrap_or(path)))
}

fn list(models: &Path, selected: Option<PathBuf>) -> anyhow::Result<Vec<Installed>> {
    let entries = match std::fs::read_dir(models) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err).context(format!("cannot read {}", models.display())),
    };
    let mut listed = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        // Hidden entries are installs in progress.
        let Some(name) = name.filter(|n| !n.starts_with('.')) else {
            continue;
        };
        if !path.is_dir() {
            continue;
        }
        let info = BertModelInfo::read(&path);
        listed.push(Installed {
            default: selected.is_some() && selected == path.canonicalize().ok(),
            id: info.as_ref().ok().map(|i| i.id.clone()),
            dimension: info.as_ref().ok().map(|i| i.dimension),
            error: info.err().map(|e| e.to_string()),
            size_bytes: install::disk_size(&path)?,
            name,
            path,
        });
    }
    listed.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(listed)
}

fn table(listed: &[Installed], models: &Path) -> String {
    if listed.is_empty() {
        return format!(
            "no models installed in {}; install one with `memory-cli model install DIR_OR_URL`\n",
            models.display()
        );
    }
    let width = listed
        .iter()
        .map(|m| m.name.len())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut out = format!("{:<width$}  DIMENSION  {:>9}  DEFAULT\n", "NAME", "SIZE");
    for model in listed {
        let dimension = model.dimension.map_or("-".to_string(), |d| d.to_string());
        let default = if model.default { "yes" } else { "" };
        let row = format!(
            "{:<width$}  {dimension:>9}  {:>9}  {default}",
            model.name,
            size(model.size_bytes)
        );
        out.push_str(row.trim_end());
        out.push('\n');
        if let Some(error) = &model.error {
            out.push_str(&format!("  unusable: {}\n", memory_cli::one_line(error)));
        }
    }
    out
}

/// Bytes in the largest unit that keeps the number at least 1, one decimal.
fn size(bytes: u64) -> String {
    let mut value = bytes as f64;
    for unit in ["B", "KiB", "MiB"] {
        if value < 1024.0 {
            return if unit == "B" {
                format!("{bytes} B")
            } else {
                format!("{value:.1} {unit}")
            };
        }
        value /= 1024.0;
    }
    format!("{value:.1} GiB")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(2048), "2.0 KiB");
        assert_eq!(size(90_868_376), "86.7 MiB");
        assert_eq!(size(3 << 30), "3.0 GiB");
    }
}
