//! A local sentence-embedding model: a BERT sentence-transformers directory run on the CPU with candle.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use serde::Deserialize;
use tokenizers::Tokenizer;

use super::normalise;
use crate::{Embedder, Error, Result};

/// Texts run through the model together; a larger input is split into batches of this many.
const BATCH: usize = 32;

/// What a model directory says about itself, read from `config.json` alone (no weights are loaded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BertModelInfo {
    /// The model's directory.
    pub dir: PathBuf,
    /// The directory's name, which names the model.
    pub name: String,
    /// The embedder id: `bert:<name>:<dimension>`.
    pub id: String,
    /// The length of every vector (`hidden_size`).
    pub dimension: usize,
}

impl BertModelInfo {
    /// Reads `config.json` of the model in `dir`.
    pub fn read(dir: &Path) -> Result<Self> {
        let (_, info) = read_config(dir)?;
        Ok(info)
    }
}

/// A BERT sentence-transformers model (all-MiniLM-L6-v2, bge-small, e5, ...) run locally on the CPU.
///
/// The directory holds `config.json`, `tokenizer.json` and `model.safetensors` (tensor names with or without the
/// `bert.` prefix), and optionally the sentence-transformers files: `modules.json`, the pooling module's
/// `config.json` (`1_Pooling/config.json`; mean or CLS pooling, or max, or mean divided by the square root of the
/// length) and `sentence_bert_config.json` (`max_seq_length`). Without them it pools by the mean of the tokens.
/// Texts are cut to `max_seq_length`, else to the tokenizer's truncation length, and never past the model's
/// `max_position_embeddings`.
///
/// Vectors are always L2-normalised, as [`Embedder`] promises: for a model whose `modules.json` ends in a
/// `Normalize` module this is what sentence-transformers does; for one without it cosine similarity, the only
/// comparison this workspace makes, is unchanged. A modules.json with any other module (a `Dense` projection,
/// for instance) is refused rather than half-applied.
///
/// The id is `bert:<directory name>:<dimension>`, e.g. `bert:all-MiniLM-L6-v2:384`: the directory name
/// stands for the model, so two different models must not be installed under one name.
pub struct BertEmbedder {
    info: BertModelInfo,
    model: BertModel,
    tokenizer: Tokenizer,
    pooling: Pooling,
    pad_id: u32,
}

/// How token vectors become one sentence vector (sentence-transformers' pooling modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pooling {
    Mean,
    Cls,
    Max,
    MeanSqrtLen,
}

/// `1_Pooling/config.json`.
#[derive(Deserialize)]
struct PoolingConfig {
    word_embedding_dimension: Option<usize>,
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pooling_mode_weightedmean_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
}

/// One entry of `modules.json`.
#[derive(Deserialize)]
struct Module {
    #[serde(default)]
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

/// `sentence_bert_config.json`.
#[derive(Deserialize)]
struct SentenceBertConfig {
    max_seq_length: Option<usize>,
}

fn model_error(dir: &Path, detail: impl Into<String>) -> Error {
    Error::Model {
        dir: dir.display().to_string(),
        detail: detail.into(),
    }
}

/// Reads `dir/name`, which must exist.
fn read_file(dir: &Path, name: &str) -> Result<Vec<u8>> {
    let path = dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(bytes),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            Err(model_error(dir, format!("{name} is missing")))
        }
        Err(err) => Err(model_error(dir, format!("cannot read {name}: {err}"))),
    }
}

/// Reads `dir/name` if it exists.
fn read_optional(dir: &Path, name: &str) -> Result<Option<Vec<u8>>> {
    match read_file(dir, name) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(_) if !dir.join(name).exists() => Ok(None),
        Err(err) => Err(err),
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(dir: &Path, name: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|err| model_error(dir, format!("{name} is invalid: {err}")))
}

fn read_config(dir: &Path) -> Result<(Config, BertModelInfo)> {
    if !dir.is_dir() {
        return Err(model_error(dir, "not a directory"));
    }
    let config: Config = parse_json(dir, "config.json", &read_file(dir, "config.json")?)?;
    if let Some(kind) = config.model_type.as_deref().filter(|k| *k != "bert") {
        return Err(model_error(
            dir,
            format!(
                "config.json: model_type {kind:?} is not supported; only BERT models (\"bert\") are"
            ),
        ));
    }
    if config.hidden_size == 0 || config.max_position_embeddings < 4 {
        return Err(model_error(
            dir,
            "config.json: hidden_size must be positive and max_position_embeddings at least 4",
        ));
    }
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "model".to_string());
    let info = BertModelInfo {
        dir: dir.to_path_buf(),
        id: format!("bert:{name}:{}", config.hidden_size),
        name,
        dimension: config.hidden_size,
    };
    Ok((config, info))
}

/// The pooling the model's files ask for; mean pooling when they say nothing.
fn read_pooling(dir: &Path, hidden: usize) -> Result<Pooling> {
    let mut pooling_dir = "1_Pooling".to_string();
    let mut named = false;
    if let Some(bytes) = read_optional(dir, "modules.json")? {
        let modules: Vec<Module> = parse_json(dir, "modules.json", &bytes)?;
        for module in &modules {
            match module.kind.rsplit('.').next().unwrap_or_default() {
                "Transformer" | "Normalize" => {}
                "Pooling" => {
                    pooling_dir = module.path.clone();
                    named = true;
                }
                other => {
                    return Err(model_error(
                        dir,
                        format!(
                            "modules.json: module {other} ({}) is not supported; only Transformer, Pooling \
                             and Normalize are",
                            module.kind
                        ),
                    ));
                }
            }
        }
    }
    let name = format!("{pooling_dir}/config.json");
    // A pooling module that modules.json names must be there; without modules.json it is optional.
    let bytes = if named {
        read_file(dir, &name)?
    } else {
        match read_optional(dir, &name)? {
            Some(bytes) => bytes,
            None => return Ok(Pooling::Mean),
        }
    };
    let config: PoolingConfig = parse_json(dir, &name, &bytes)?;
    if let Some(width) = config.word_embedding_dimension.filter(|w| *w != hidden) {
        return Err(model_error(
            dir,
            format!(
                "{name}: word_embedding_dimension {width} differs from hidden_size {hidden} in config.json"
            ),
        ));
    }
    let modes = [
        (config.pooling_mode_mean_tokens, Some(Pooling::Mean), "mean"),
        (config.pooling_mode_cls_token, Some(Pooling::Cls), "cls"),
        (config.pooling_mode_max_tokens, Some(Pooling::Max), "max"),
        (
            config.pooling_mode_mean_sqrt_len_tokens,
            Some(Pooling::MeanSqrtLen),
            "mean_sqrt_len",
        ),
        (
            config.pooling_mode_weightedmean_tokens,
            None,
            "weightedmean",
        ),
        (config.pooling_mode_lasttoken, None, "lasttoken"),
    ];
    let chosen: Vec<_> = modes.iter().filter(|(on, ..)| *on).collect();
    match chosen.as_slice() {
        [(_, Some(pooling), _)] => Ok(*pooling),
        [(_, None, mode)] => Err(model_error(
            dir,
            format!(
                "{name}: pooling mode {mode} is not supported; mean, cls, max and mean_sqrt_len are"
            ),
        )),
        [] => Err(model_error(
            dir,
            format!("{name}: no pooling mode is enabled"),
        )),
        several => Err(model_error(
            dir,
            format!(
                "{name}: combining pooling modes ({}) is not supported",
                several
                    .iter()
                    .map(|(_, _, m)| *m)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// Checks that the safetensors header describes data the file holds, so a truncated download is named as such
/// rather than as a decoding error.
fn check_safetensors(dir: &Path, bytes: &[u8]) -> Result<()> {
    const NAME: &str = "model.safetensors";
    let Some((len, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(model_error(
            dir,
            format!("{NAME} is truncated: {} bytes", bytes.len()),
        ));
    };
    let header_len = usize::try_from(u64::from_le_bytes(*len)).unwrap_or(usize::MAX);
    let Some(header) = rest.get(..header_len) else {
        return Err(model_error(
            dir,
            format!(
                "{NAME} is truncated or not a safetensors file: its header claims {header_len} bytes, the file \
                 has {}",
                bytes.len()
            ),
        ));
    };
    let header: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(header)
        .map_err(|err| model_error(dir, format!("{NAME} has an invalid header: {err}")))?;
    let needed = header
        .values()
        .filter_map(|t| t.get("data_offsets")?.get(1)?.as_u64())
        .max()
        .unwrap_or(0);
    let data = (rest.len() - header_len) as u64;
    if data < needed {
        return Err(model_error(
            dir,
            format!(
                "{NAME} is truncated: its tensors need {needed} bytes of data, the file holds {data}"
            ),
        ));
    }
    Ok(())
}

impl BertEmbedder {
    /// Loads the model in `dir` (see the type's documentation for the files it reads).
    pub fn load(dir: &Path) -> Result<BertEmbedder> {
        let (config, info) = read_config(dir)?;
        let pooling = read_pooling(dir, config.hidden_size)?;

        let mut tokenizer = Tokenizer::from_bytes(read_file(dir, "tokenizer.json")?)
            .map_err(|err| model_error(dir, format!("tokenizer.json is invalid: {err}")))?;
        let configured = match read_optional(dir, "sentence_bert_config.json")? {
            Some(bytes) => {
                parse_json::<SentenceBertConfig>(dir, "sentence_bert_config.json", &bytes)?
                    .max_seq_length
            }
            None => None,
        };
        let max_length = configured
            .or_else(|| tokenizer.get_truncation().map(|t| t.max_length))
            .unwrap_or(config.max_position_embeddings)
            .clamp(4, config.max_position_embeddings);
        let truncation = tokenizers::TruncationParams {
            max_length,
            ..tokenizer.get_truncation().cloned().unwrap_or_default()
        };
        tokenizer.with_truncation(Some(truncation)).map_err(|err| {
            model_error(
                dir,
                format!("tokenizer.json: cannot truncate to {max_length} tokens: {err}"),
            )
        })?;
        // Batches are padded here, to their own longest text.
        tokenizer.with_padding(None);

        let weights = read_file(dir, "model.safetensors")?;
        check_safetensors(dir, &weights)?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|err| model_error(dir, format!("model.safetensors is invalid: {err}")))?;
        let model = BertModel::load(vb, &config).map_err(|err| {
            model_error(
                dir,
                format!("model.safetensors does not match config.json: {err}"),
            )
        })?;
        let pad_id = u32::try_from(config.pad_token_id).unwrap_or(0);
        Ok(BertEmbedder {
            info,
            model,
            tokenizer,
            pooling,
            pad_id,
        })
    }

    /// What the model's `config.json` says: name, id, dimension, directory.
    pub fn info(&self) -> &BertModelInfo {
        &self.info
    }

    fn error(&self, detail: impl Into<String>) -> Error {
        model_error(&self.info.dir, detail)
    }

    /// Token ids, type ids and attention mask of one batch, padded to its longest text, as `(n, len)` tensors.
    fn batch_tensors(
        &self,
        encodings: &[&tokenizers::Encoding],
    ) -> candle_core::Result<[Tensor; 3]> {
        let len = encodings.iter().map(|e| e.len()).max().unwrap_or(0);
        let n = encodings.len();
        let (mut ids, mut types, mut mask) = (
            vec![self.pad_id; n * len],
            vec![0u32; n * len],
            vec![0u32; n * len],
        );
        for (row, encoding) in encodings.iter().enumerate() {
            let at = row * len;
            let width = encoding.len();
            ids[at..at + width].copy_from_slice(encoding.get_ids());
            types[at..at + width].copy_from_slice(encoding.get_type_ids());
            mask[at..at + width].copy_from_slice(encoding.get_attention_mask());
        }
        let tensor = |data: Vec<u32>| Tensor::from_vec(data, (n, len), &Device::Cpu);
        Ok([tensor(ids)?, tensor(types)?, tensor(mask)?])
    }

    /// One pooled, unnormalised vector per encoding.
    fn run(&self, encodings: &[&tokenizers::Encoding]) -> candle_core::Result<Vec<Vec<f32>>> {
        let [ids, types, mask] = self.batch_tensors(encodings)?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?; // (n, len, dimension)
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (n, len, 1)
        let pooled = match self.pooling {
            Pooling::Cls => hidden.narrow(1, 0, 1)?.squeeze(1)?,
            Pooling::Mean | Pooling::MeanSqrtLen => {
                let sum = hidden.broadcast_mul(&mask)?.sum(1)?;
                let count = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?;
                let count = match self.pooling {
                    Pooling::MeanSqrtLen => count.sqrt()?,
                    _ => count,
                };
                sum.broadcast_div(&count)?
            }
            Pooling::Max => {
                // Padding positions get a large negative value so they never win.
                let penalty = ((mask.ones_like()? - &mask)? * -1e9f64)?;
                hidden.broadcast_add(&penalty)?.max(1)?
            }
        };
        pooled.to_vec2::<f32>()
    }
}

impl Embedder for BertEmbedder {
    fn id(&self) -> &str {
        &self.info.id
    }

    fn dimension(&self) -> usize {
        self.info.dimension
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut vectors = vec![vec![0.0f32; self.info.dimension]; texts.len()];
        // Blank texts keep the zero vector, as the trait specifies.
        let todo: Vec<usize> = (0..texts.len())
            .filter(|&i| !texts[i].trim().is_empty())
            .collect();
        if todo.is_empty() {
            return Ok(vectors);
        }
        let inputs: Vec<&str> = todo.iter().map(|&i| texts[i]).collect();
        let encodings = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(|err| self.error(format!("tokenizing failed: {err}")))?;
        // Texts of similar length share a batch, so little of it is padding.
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&k| encodings[k].len());
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&tokenizers::Encoding> = chunk.iter().map(|&k| &encodings[k]).collect();
            let pooled = self
                .run(&batch)
                .map_err(|err| self.error(format!("inference failed: {err}")))?;
            for (&k, mut vector) in chunk.iter().zip(pooled) {
                normalise(&mut vector);
                vectors[todo[k]] = vector;
            }
        }
        Ok(vectors)
    }
}

#[cfg(test)]
mod tests;
