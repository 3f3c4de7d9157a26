//! Text analysis for full-text ranking: words, lowercased, without common English words, stemmed.

use std::{
    collections::HashMap,
    sync::{LazyLock, RwLock},
};

use rust_stemmers::{Algorithm, Stemmer};

static STEMMER: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// English words too common to tell texts apart: articles, pronouns, auxiliaries, question words. They are left
/// out of documents and queries alike.
const STOPWORDS: &[&str] = &[
    "a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at",
    "be", "been", "before", "being", "both", "but", "by", "can", "could", "did", "do", "does",
    "doing", "for", "from", "had", "has", "have", "having", "he", "her", "here", "hers", "him",
    "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "me", "mine", "my", "of",
    "on", "or", "other", "our", "ours", "she", "should", "so", "some", "such", "than", "that",
    "the", "their", "them", "then", "there", "these", "they", "this", "those", "to", "too", "us",
    "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why",
    "will", "with", "would", "you", "your", "yours",
];

/// Stems already computed: text repeats its words, and a lookup is several times cheaper than the stemmer.
/// Cleared when it reaches [`STEM_CACHE`] words.
const STEM_CACHE: usize = 100_000;

static STEMS: LazyLock<RwLock<HashMap<String, String>>> = LazyLock::new(Default::default);

fn stem(word: String) -> String {
    if let Some(stem) = STEMS.read().unwrap_or_else(|e| e.into_inner()).get(&word) {
        return stem.clone();
    }
    let stem = STEMMER.stem(&word).into_owned();
    let mut stems = STEMS.write().unwrap_or_else(|e| e.into_inner());
    if stems.len() >= STEM_CACHE {
        stems.clear();
    }
    stems.insert(word, stem.clone());
    stem
}

/// The stemmed terms of `text`, in order, repeats kept. Words are maximal runs of letters and digits; single
/// letters and stopwords are dropped.
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() || (word.chars().nth(1).is_none() && !word.starts_with(char::is_numeric))
        {
            continue;
        }
        let word = word.to_lowercase();
        if STOPWORDS.binary_search(&word.as_str()).is_ok() {
            continue;
        }
        out.push(stem(word));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopwords_are_sorted_for_binary_search() {
        assert!(STOPWORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn words_are_lowercased_stemmed_and_filtered() {
        assert_eq!(
            terms("How did we fix the flaky async Tests in payments?"),
            ["fix", "flaki", "async", "test", "payment"]
        );
        assert_eq!(terms("Caroline's 3 dogs: x"), ["carolin", "3", "dog"]);
        assert_eq!(terms("tokio::time::pause()"), ["tokio", "time", "paus"]);
        assert!(terms("?! -- :").is_empty());
    }
}
