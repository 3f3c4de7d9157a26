//! Text embeddings: the [`Embedder`] trait and the built-in [`LexicalEmbedder`].

use std::collections::HashMap;

use crate::Result;

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

    fn embed_one(&self, text: &str) -> Vec<f32> {
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        let mut counts: HashMap<(u8, String), u32> = HashMap::new();
        for word in &words {
            *counts.entry((0, word.clone())).or_default() += 1;
            let marked: Vec<char> = format!("^{word}$").chars().collect();
            for gram in marked.windows(3) {
                *counts.entry((2, gram.iter().collect())).or_default() += 1;
            }
        }
        for pair in words.windows(2) {
            *counts
                .entry((1, format!("{} {}", pair[0], pair[1])))
                .or_default() += 1;
        }
        let mut vector = vec![0.0f32; self.dimension];
        for ((kind, feature), count) in counts {
            let weight = [1.0, 0.7, 0.3][kind as usize] * (1.0 + (count as f32).ln());
            let hash = fnv1a(kind, &feature);
            let bucket = (hash % self.dimension as u64) as usize;
            let sign = if hash >> 63 == 0 { 1.0 } else { -1.0 };
            vector[bucket] += sign * weight;
        }
        normalise(&mut vector);
        vector
    }
}

impl Default for LexicalEmbedder {
    /// 512 buckets.
    fn default() -> Self {
        LexicalEmbedder::new(512)
    }
}

/// Scales `vector` to unit length (a zero vector stays zero).
pub(crate) fn normalise(vector: &mut [f32]) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
}

fn fnv1a(kind: u8, feature: &str) -> u64 {
    crate::fnv1a64_extend(crate::fnv1a64(&[kind]), feature.as_bytes())
}

impl Embedder for LexicalEmbedder {
    fn id(&self) -> &str {
        &self.id
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|t| self.embed_one(t)).collect())
    }
}

#[cfg(test)]
mod tests;
