//! Embedding models: choosing the embedder every embedding command uses, and `model install | list`.

mod install;

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use memory_core::{
    BertEmbedder, BertModelInfo, Embedder, HttpEmbedder, HttpEmbedderConfig, LexicalEmbedder,
};
use serde::Serialize;

use crate::{GlobalArgs, output::Format};

/// The model used when no embedder is named and it is installed.
pub const DEFAULT_MODEL: &str = "all-MiniLM-L6-v2";

/// Global options that choose the embedder.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct EmbedderArgs {
    /// How texts are embedded: `lexical` (built in), `model:NAME` (an installed model), a model directory, or
    /// `http` (an OpenAI-compatible service set by MEMORY_EMBED_URL, MEMORY_EMBED_MODEL, MEMORY_EMBED_API_KEY
    /// and MEMORY_EMBED_DIMENSION) [default: the installed model all-MiniLM-L6-v2, else lexical].
    #[arg(long, global = true, env = "MEMORY_EMBEDDER", value_name = "SPEC")]
    embedder: Option<String>,
    /// Where models are installed [default: the user's data directory, e.g. ~/.local/share/memory/models].
    #[arg(long, global = true, env = "MEMORY_MODELS_DIR", value_name = "DIR")]
    models_dir: Option<PathBuf>,
}

impl EmbedderArgs {
    /// `--embedder` / `MEMORY_EMBEDDER`, if given (an empty value counts as not given).
    fn spec(&self) -> Option<&str> {
        self.embedder
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// `--models-dir`, else `<data dir>/memory/models`.
    pub fn models_dir(&self) -> anyhow::Result<PathBuf> {
        if let Some(dir) = self
            .models_dir
            .as_ref()
            .filter(|d| !d.as_os_str().is_empty())
        {
            return Ok(dir.clone());
        }
        let data = dirs::data_dir().context(
            "cannot find the user's data directory; pass --models-dir DIR or set MEMORY_MODELS_DIR",
        )?;
        Ok(data.join("memory").join("models"))
    }
}

/// The embedder the options choose. It does no heavy work: a model's weights load on its first embedding, and
/// a service is first called then, so commands that embed nothing pay nothing.
pub fn embedder(global: &GlobalArgs) -> anyhow::Result<Arc<dyn Embedder>> {
    let args = &global.embedder;
    let Some(spec) = args.spec() else {
        let dir = args.models_dir()?.join(DEFAULT_MODEL);
        if dir.is_dir() {
            return Ok(Arc::new(LazyModel::open(&dir)?));
        }
        return Ok(Arc::new(NotedLexical::default()));
    };
    if spec == "lexical" {
        return Ok(Arc::new(LexicalEmbedder::default()));
    }
    if spec == "http" {
        return Ok(Arc::new(http_from_env()?));
    }
    if let Some(name) = spec.strip_prefix("model:") {
        let models = args.models_dir()?;
        let dir = models.join(name);
        if name.is_empty() || name.contains(['/', '\\']) || !dir.is_dir() {
            bail!(
                "no model named {name:?} is installed in {}; `memory-cli model list` shows the installed ones",
                models.display()
            );
        }
        return Ok(Arc::new(LazyModel::open(&dir)?));
    }
    let path = Path::new(spec);
    if path.is_dir() {
        return Ok(Arc::new(LazyModel::open(path)?));
    }
    bail!(
        "invalid --embedder {spec:?}: expected lexical, model:NAME, the directory of a model, or http \
         (no directory {spec:?} exists)"
    )
}

/// `--embedder http`, configured from the environment.
fn http_from_env() -> anyhow::Result<HttpEmbedder> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let url = var("MEMORY_EMBED_URL").context(
        "--embedder http needs MEMORY_EMBED_URL, the service's base URL (e.g. http://localhost:11434)",
    )?;
    let model = var("MEMORY_EMBED_MODEL")
        .context("--embedder http needs MEMORY_EMBED_MODEL, the model the service should run")?;
    let mut config = HttpEmbedderConfig::new(url, model);
    if let Some(key) = var("MEMORY_EMBED_API_KEY") {
        config = config.with_api_key(key);
    }
    if let Some(text) = var("MEMORY_EMBED_DIMENSION") {
        match text.trim().parse::<usize>() {
            Ok(dimension) if dimension > 0 => config = config.with_dimension(dimension),
            _ => bail!("invalid MEMORY_EMBED_DIMENSION {text:?}: expected a positive number"),
        }
    }
    Ok(HttpEmbedder::new(config)?)
}

/// A local model whose id and dimension come from its `config.json`; the weights load on the first embedding.
struct LazyModel {
    info: BertModelInfo,
    loaded: Mutex<Option<Arc<BertEmbedder>>>,
}

impl LazyModel {
    fn open(dir: &Path) -> anyhow::Result<LazyModel> {
        Ok(LazyModel {
            info: BertModelInfo::read(dir)?,
            loaded: Mutex::new(None),
        })
    }

    fn model(&self) -> memory_core::Result<Arc<BertEmbedder>> {
        let mut slot = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(model) = slot.as_ref() {
            return Ok(model.clone());
        }
        let model = Arc::new(BertEmbedder::load(&self.info.dir)?);
        *slot = Some(model.clone());
        Ok(model)
    }
}

impl Embedder for LazyModel {
    fn id(&self) -> &str {
        &self.info.id
    }

    fn dimension(&self) -> usize {
        self.info.dimension
    }

    fn embed(&self, texts: &[&str]) -> memory_core::Result<Vec<Vec<f32>>> {
        self.model()?.embed(texts)
    }
}

/// The lexical embedder used because nothing else was chosen or installed: the first embedding says so, once,
/// on stderr.
#[derive(Default)]
struct NotedLexical {
    inner: LexicalEmbedder,
    noted: AtomicBool,
}

impl Embedder for NotedLexical {
    fn id(&self) -> &str {
        self.inner.id()
    }

    fn dimension(&self) -> usize {
        self.inner.dimension()
    }

    fn embed(&self, texts: &[&str]) -> memory_core::Result<Vec<Vec<f32>>> {
        if !self.noted.swap(true, Ordering::Relaxed) {
            eprintln!(
                "note: embedding with the built-in lexical embedder, which matches words rather than meaning; \
                 install {DEFAULT_MODEL} with `memory-cli model install` for semantic search (README, \
                 \"Embedding models\"), or pass --embedder lexical to silence this"
            );
        }
        self.inner.embed(texts)
    }
}

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
    let models = global.embedder.models_dir()?;
    let text = match command {
        ModelCommand::Install { source, name } => {
            let installed = tokio::task::spawn_blocking(move || {
                install::install(&source, name.as_deref(), &models)
            })
            .await??;
            match global.format {
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
            match global.format {
                Format::Json => crate::output::json(&listed)?,
                Format::Human => table(&listed, &global.embedder.models_dir()?),
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
    let models = global.embedder.models_dir()?;
    let chosen = match global.embedder.spec() {
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
            out.push_str(&format!("  unusable: {}\n", crate::one_line(error)));
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
