//! `model install`: copying or downloading a model's files into a hidden directory beside the models, checking
//! that they load and embed, then renaming that directory into place.

use std::{
    io::{Read as _, Write as _},
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context as _, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use memory_core::{BertEmbedder, BertModelInfo, Embedder};

use super::Installed;

/// The files a model cannot do without.
const REQUIRED: &[&str] = &["config.json", "tokenizer.json", "model.safetensors"];
/// Files read when present (the pooling module's config is fetched from the folder modules.json names).
const OPTIONAL: &[&str] = &["modules.json", "sentence_bert_config.json"];
/// The pooling folder when modules.json does not name one.
const DEFAULT_POOLING: &str = "1_Pooling";

/// Installs the model at `source` (a directory or an http(s) URL) into `models/NAME`.
pub fn install(source: &str, name: Option<&str>, models: &Path) -> anyhow::Result<Installed> {
    let is_url = source.starts_with("http://") || source.starts_with("https://");
    let name = match name {
        Some(name) => name.to_string(),
        None => default_name(source, is_url)?,
    };
    check_name(&name)?;
    let dest = models.join(&name);
    if dest.exists() {
        bail!(
            "a model named {name:?} is already installed in {}; remove that directory or choose another --name",
            dest.display()
        );
    }
    std::fs::create_dir_all(models)
        .with_context(|| format!("cannot create {}", models.display()))?;
    // Beside its destination, so the final rename stays on one file system; removed on any failure.
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.installing-"))
        .tempdir_in(models)
        .with_context(|| format!("cannot create a directory in {}", models.display()))?;

    if is_url {
        fetch_all(source, staging.path())?;
    } else {
        copy_all(Path::new(source), staging.path())?;
    }
    validate(staging.path()).with_context(|| format!("{source} is not a usable model"))?;

    std::fs::rename(staging.path(), &dest).with_context(|| {
        format!(
            "cannot move {} to {}",
            staging.path().display(),
            dest.display()
        )
    })?;
    // The directory now lives at `dest`; the guard would find nothing to remove.
    let _ = staging.keep();
    let info = BertModelInfo::read(&dest)?;
    Ok(Installed {
        name,
        id: Some(info.id),
        dimension: Some(info.dimension),
        size_bytes: disk_size(&dest)?,
        path: dest,
        default: false,
        error: None,
    })
}

/// The directory's name, or the URL's last path segment (the repository's, for a `.../resolve/<revision>` URL).
fn default_name(source: &str, is_url: bool) -> anyhow::Result<String> {
    let name = if is_url {
        let path = source
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .trim_end_matches('/');
        let segments: Vec<&str> = path.split('/').skip(3).collect();
        match segments.iter().position(|s| *s == "resolve") {
            Some(at) if at > 0 => segments[at - 1].to_string(),
            _ => segments.last().copied().unwrap_or_default().to_string(),
        }
    } else {
        std::fs::canonicalize(source)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default()
    };
    if name.is_empty() {
        bail!("cannot tell a model name from {source:?}; pass --name NAME");
    }
    Ok(name)
}

fn check_name(name: &str) -> anyhow::Result<()> {
    let fine = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !fine {
        bail!(
            "invalid model name {name:?}: use letters, digits, '-', '_' and '.', not starting with '.'"
        );
    }
    Ok(())
}

/// The pooling folder modules.json names, if it names one.
fn pooling_folder(dir: &Path) -> anyhow::Result<Option<String>> {
    let path = dir.join("modules.json");
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let modules: serde_json::Value =
        serde_json::from_slice(&text).context("modules.json of the model is not JSON")?;
    Ok(modules.as_array().and_then(|modules| {
        modules.iter().find_map(|m| {
            let kind = m.get("type")?.as_str()?;
            kind.ends_with(".Pooling")
                .then(|| m.get("path")?.as_str().map(str::to_string))?
        })
    }))
}

fn copy_all(source: &Path, to: &Path) -> anyhow::Result<()> {
    if !source.is_dir() {
        bail!(
            "{} is neither a directory nor an http(s) URL",
            source.display()
        );
    }
    let copy = |name: &str, required: bool| -> anyhow::Result<()> {
        let from = source.join(name);
        if !from.is_file() {
            if required {
                bail!("{} has no {name}", source.display());
            }
            return Ok(());
        }
        let target = to.join(name);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(&from, &target).with_context(|| format!("cannot copy {}", from.display()))?;
        Ok(())
    };
    for name in REQUIRED {
        copy(name, true)?;
    }
    for name in OPTIONAL {
        copy(name, false)?;
    }
    let pooling = pooling_folder(to)?;
    copy(
        &format!(
            "{}/config.json",
            pooling.as_deref().unwrap_or(DEFAULT_POOLING)
        ),
        pooling.is_some(),
    )
}

fn fetch_all(base: &str, to: &Path) -> anyhow::Result<()> {
    // reqwest is built without a TLS provider of its own; ring is ours. An error means one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        // No limit on the whole transfer: a model is a large file, and Ctrl-C stops a stalled one.
        .timeout(None)
        .build()
        .context("cannot build an HTTP client")?;
    let base = base.trim_end_matches('/');
    for name in REQUIRED {
        download(&client, base, name, to, true)?;
    }
    for name in OPTIONAL {
        download(&client, base, name, to, false)?;
    }
    let pooling = pooling_folder(to)?;
    let name = format!(
        "{}/config.json",
        pooling.as_deref().unwrap_or(DEFAULT_POOLING)
    );
    download(&client, base, &name, to, pooling.is_some())?;
    Ok(())
}

/// Fetches `{base}/{name}` into `to/name` with a progress bar on stderr (when it is a terminal); a 404 on a file
/// that is not `required` is skipped.
fn download(
    client: &reqwest::blocking::Client,
    base: &str,
    name: &str,
    to: &Path,
    required: bool,
) -> anyhow::Result<()> {
    let url = format!("{base}/{name}");
    let mut response = client
        .get(&url)
        .send()
        .map_err(|err| anyhow::anyhow!("cannot fetch {url}: {}", memory_core::error_chain(&err)))?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND && !required {
        return Ok(());
    }
    if !status.is_success() {
        bail!("cannot fetch {url}: HTTP {status}");
    }
    let target = to.join(name);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::File::create(&target)
        .with_context(|| format!("cannot create {}", target.display()))?;
    // Read before the body: reqwest's figure shrinks as the body is read.
    let expected = response.content_length();
    let bar = ProgressBar::with_draw_target(expected, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:20} {bar:30} {bytes:>10}/{total_bytes:10} {bytes_per_sec:>12} {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(name.to_string());
    let mut buffer = vec![0u8; 256 * 1024];
    let mut received = 0u64;
    loop {
        let read = response.read(&mut buffer).map_err(|err| {
            anyhow::anyhow!("reading {url} failed: {}", memory_core::error_chain(&err))
        })?;
        if read == 0 {
            break;
        }
        file.write_all(&buffer[..read])
            .with_context(|| format!("cannot write {}", target.display()))?;
        received += read as u64;
        bar.inc(read as u64);
    }
    bar.finish_and_clear();
    if let Some(expected) = expected.filter(|&n| n != received) {
        bail!("{url} ended after {received} of {expected} bytes");
    }
    file.sync_all()
        .with_context(|| format!("cannot write {}", target.display()))?;
    Ok(())
}

/// Loads the model and embeds one sentence: what every later command will do with it.
fn validate(dir: &Path) -> anyhow::Result<()> {
    let model = BertEmbedder::load(dir)?;
    let vectors = model.embed(&["The settlement test is flaky on slow machines."])?;
    let vector = vectors.first().context("the model returned no vector")?;
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    let unit = (norm - 1.0).abs() < 1e-3;
    if vector.len() != model.dimension() || !unit {
        bail!(
            "the model's test embedding is unusable ({} values, norm {norm})",
            vector.len()
        );
    }
    Ok(())
}

/// Bytes of the files under `dir`.
pub fn disk_size(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?
        {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.len();
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_source() {
        let name = |s: &str| default_name(s, true).unwrap();
        assert_eq!(
            name("http://127.0.0.1:8080/models/all-MiniLM-L6-v2/"),
            "all-MiniLM-L6-v2"
        );
        assert_eq!(
            name("https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/main"),
            "all-MiniLM-L6-v2"
        );
        assert!(default_name("http://host", true).is_err());
        assert!(check_name("bge-small-en-v1.5").is_ok());
        for bad in ["", ".hidden", "a/b", "..", "white space"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
