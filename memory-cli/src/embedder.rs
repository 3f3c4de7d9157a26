//! Choosing the embedder: `--embedder` / `MEMORY_EMBEDDER` and `--models-dir` / `MEMORY_MODELS_DIR`.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use anyhow::{Context as _, bail};
use clap::Args;
use memory_core::{
    BertEmbedder, BertModelInfo, Embedder, EmbeddingModel, HttpEmbedder, HttpEmbedderConfig,
    LexicalEmbedder,
};

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
    pub fn spec(&self) -> Option<&str> {
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

/// The embedder the options choose, once the store's model is known ([`Chosen::for_store`]).
pub enum Chosen {
    /// The built-in lexical embedder.
    Lexical {
        /// Used because nothing else was chosen or installed: its first embedding says so on stderr.
        noted: bool,
    },
    /// Any other.
    Other(Arc<dyn Embedder>),
}

impl Chosen {
    /// The embedder for a store whose vectors `stored` made: the lexical embedder takes the dimension of a store
    /// made by another version of it, so such a store needs no `reembed`.
    pub fn for_store(self, stored: Option<&EmbeddingModel>) -> Arc<dyn Embedder> {
        match self {
            Chosen::Other(embedder) => embedder,
            Chosen::Lexical { noted } => {
                let inner = stored
                    .and_then(LexicalEmbedder::of_model)
                    .unwrap_or_default();
                if noted {
                    Arc::new(NotedLexical {
                        inner,
                        noted: AtomicBool::new(false),
                    })
                } else {
                    Arc::new(inner)
                }
            }
        }
    }
}

/// The embedder the options choose. It does no heavy work: a model's weights load on its first embedding, and
/// a service is first called then, so commands that embed nothing pay nothing.
pub fn embedder(args: &EmbedderArgs) -> anyhow::Result<Chosen> {
    let Some(spec) = args.spec() else {
        let dir = args.models_dir()?.join(DEFAULT_MODEL);
        if dir.is_dir() {
            return Ok(Chosen::Other(Arc::new(LazyModel::open(&dir)?)));
        }
        return Ok(Chosen::Lexical { noted: true });
    };
    if spec == "lexical" {
        return Ok(Chosen::Lexical { noted: false });
    }
    if spec == "http" {
        return Ok(Chosen::Other(Arc::new(http_from_env()?)));
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
        return Ok(Chosen::Other(Arc::new(LazyModel::open(&dir)?)));
    }
    let path = Path::new(spec);
    if path.is_dir() {
        return Ok(Chosen::Other(Arc::new(LazyModel::open(path)?)));
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

/// Set by [`quiet`]: notes are not printed.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Prints no notes from here on (a hook's standard error may reach the agent's screen).
pub fn quiet() {
    QUIET.store(true, Ordering::Relaxed);
}

/// The lexical embedder used because nothing else was chosen or installed: the first embedding says so, once,
/// on stderr.
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
        if !self.noted.swap(true, Ordering::Relaxed) && !QUIET.load(Ordering::Relaxed) {
            eprintln!(
                "note: embedding with the built-in lexical embedder, which matches words rather than meaning; \
                 install {DEFAULT_MODEL} with `memory-cli model install` for semantic search (README, \
                 \"Embedding models\"), or pass --embedder lexical to silence this"
            );
        }
        self.inner.embed(texts)
    }
}
