//! Text embeddings: the [`Embedder`] trait and the built-in [`LexicalEmbedder`].

use crate::{EmbeddingModel, Result};

#[cfg(feature = "local-model")]
mod bert;
#[cfg(feature = "local-model")]
pub use bert::{BertEmbedder, BertModelInfo};
#[cfg(feature = "http-embedder")]
mod http;
#[cfg(feature = "http-embedder")]
pub use http::{HttpEmbedder, HttpEmbedderConfig};

/// Turns texts into fixed-length vectors whose cosine similarity reflects how alike the texts are.
///
/// Implementations are CPU- or network-bound and synchronous; async callers run them through
/// [`crate::run_blocking`].
pub trait Embedder: Send + Sync {
    /// A stable identifier of the model and its settings; vectors from different ids must not be compared.
    fn id(&self) -> &str;

    /// The length of every vector.
    fn dimension(&self) -> usize;

    /// One L2-normalised vector per text, in order (an empty text gives the zero vector).
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;

    /// How much hybrid ranking weighs this embedder's similarity against BM25 (which gets the rest), from 0 to 1.
    /// 0.4 suits sentence-embedding models: on the conversational dev set (`locomo-dev.json`) it gave
    /// all-MiniLM-L6-v2 its best recall@10, and full text stays the larger share, as it is the stronger signal
    /// on data that repeats the question's words.
    fn semantic_weight(&self) -> f64 {
        0.4
    }
}

/// Cosine similarity of two vectors of equal length (0 when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

/// A deterministic embedder that needs no model files: hashed lexical features, L2-normalised.
///
/// Features are lowercased words (weight 1), adjacent word pairs (0.7) and the character trigrams of each word
/// with boundary marks (0.3, so `tests` and `test` share most of theirs); each count `c` contributes
/// `1 + ln c`. Every feature is hashed (FNV-1a) to one of `dimension` buckets with a sign from the hash, the
/// usual feature-hashing construction. It captures shared words and word forms, not meaning: synonyms look
/// unrelated; capturing meaning takes a sentence-embedding model.
#[derive(Clone, Debug)]
pub struct LexicalEmbedder {
    dimension: usize,
    id: String,
}

impl LexicalEmbedder {
    /// Vectors of `dimension` buckets (at least 16).
    pub fn new(dimension: usize) -> Self {
        let dimension = dimension.max(16);
        LexicalEmbedder {
            dimension,
            id: format!("lexical-v1-{dimension}"),
        }
    }

    /// The lexical embedder that made a store's vectors, when `model` is one (`lexical-v1-N`): a store keeps the
    /// dimension it was made with, whatever the default is now.
    pub fn of_model(model: &EmbeddingModel) -> Option<LexicalEmbedder> {
        let dimension: usize = model.id.strip_prefix("lexical-v1-")?.parse().ok()?;
        (dimension >= 16 && dimension == model.dimension).then(|| LexicalEmbedder::new(dimension))
    }

    fn embed_one(&self, text: &str) -> Vec<f32> {
        use crate::{fnv1a64, fnv1a64_extend};
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        // Every occurrence of every feature as (hash, kind); sorted, equal neighbours are one feature's count.
        let mut features: Vec<(u64, u8)> = Vec::with_capacity(words.len() * 8);
        let (word_seed, pair_seed, gram_seed) = (fnv1a64(&[0]), fnv1a64(&[1]), fnv1a64(&[2]));
        let mut buf = [0u8; 4];
        for word in &words {
            features.push((fnv1a64_extend(word_seed, word.as_bytes()), 0));
            let marked: Vec<char> = std::iter::once('^')
                .chain(word.chars())
                .chain(['$'])
                .collect();
            for gram in marked.windows(3) {
                let hash = gram.iter().fold(gram_seed, |h, c| {
                    fnv1a64_extend(h, c.encode_utf8(&mut buf).as_bytes())
                });
                features.push((hash, 2));
            }
        }
        for pair in words.windows(2) {
            let hash = fnv1a64_extend(fnv1a64_extend(pair_seed, pair[0].as_bytes()), b" ");
            features.push((fnv1a64_extend(hash, pair[1].as_bytes()), 1));
        }
        features.sort_unstable();
        let mut vector = vec![0.0f32; self.dimension];
        for run in features.chunk_by(|a, b| a == b) {
            let (hash, kind) = run[0];
            let weight = [1.0, 0.7, 0.3][kind as usize] * (1.0 + (run.len() as f32).ln());
            let bucket = (hash % self.dimension as u64) as usize;
            let sign = if hash >> 63 == 0 { 1.0 } else { -1.0 };
            vector[bucket] += sign * weight;
        }
        normalise(&mut vector);
        vector
    }
}

impl Default for LexicalEmbedder {
    /// 384 buckets. A store holds each vector as 4 bytes a bucket, so two of these fill a 4 KiB database page where
    /// 512 buckets took a page each; on the dev set (`locomo-dev.json`) both rank alike.
    fn default() -> Self {
        LexicalEmbedder::new(384)
    }
}

/// Scales `vector` to unit length (a zero vector stays zero).
pub(crate) fn normalise(vector: &mut [f32]) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
}

impl Embedder for LexicalEmbedder {
    /// 0.2: its similarity repeats much of what BM25 already sees (shared words), adding word forms and pairs; on
    /// the dev set more weight than this lowered recall below BM25's.
    fn semantic_weight(&self) -> f64 {
        0.2
    }

    fn id(&self) -> &str {
        &self.id
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    /// Large batches are split over two threads.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let embed = |texts: &[&str]| texts.iter().map(|t| self.embed_one(t)).collect::<Vec<_>>();
        if texts.len() < 64 {
            return Ok(embed(texts));
        }
        let (a, b) = texts.split_at(texts.len() / 2);
        Ok(std::thread::scope(|s| {
            let first = s.spawn(|| embed(a));
            let second = embed(b);
            let mut first = first
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            first.extend(second);
            first
        }))
    }
}

#[cfg(test)]
mod tests;
