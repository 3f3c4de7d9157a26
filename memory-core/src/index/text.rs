//! Text analysis for full-text ranking: words, lowercased, without common English words, stemmed.

use std::{collections::HashMap, sync::LazyLock};

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

/// Calls `f` with every word of `text` that counts, lowercased: words are maximal runs of letters and digits;
/// single letters (not digits) and stopwords are dropped.
fn words(text: &str, mut f: impl FnMut(&str)) {
    let mut lower = String::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() || (word.chars().nth(1).is_none() && !word.starts_with(char::is_numeric))
        {
            continue;
        }
        let word = if word.chars().any(char::is_uppercase) {
            lower.clear();
            lower.extend(word.chars().flat_map(char::to_lowercase));
            lower.as_str()
        } else {
            word
        };
        if STOPWORDS.binary_search(&word).is_err() {
            f(word);
        }
    }
}

/// The stemmed terms of `text`, in order, repeats kept.
#[cfg(test)]
fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    words(text, |w| out.push(STEMMER.stem(w).into_owned()));
    out
}

/// Strings and the terms they stand for, as saved.
pub(crate) type Terms = Vec<(String, u32)>;

/// A collection's terms, numbered: each distinct word is stemmed once, when first seen.
#[derive(Debug, Default)]
pub struct Vocabulary {
    /// Lowercased word → its term.
    words: HashMap<String, u32, FnvBuild>,
    /// Stem → its term.
    stems: HashMap<String, u32, FnvBuild>,
}

impl Vocabulary {
    /// The terms of `text`, in order, repeats kept, numbering new ones.
    pub fn intern(&mut self, text: &str, mut f: impl FnMut(u32)) {
        words(text, |w| {
            let term = match self.words.get(w) {
                Some(&term) => term,
                None => {
                    let next = self.stems.len() as u32;
                    let term = *self
                        .stems
                        .entry(STEMMER.stem(w).into_owned())
                        .or_insert(next);
                    self.words.insert(w.to_string(), term);
                    term
                }
            };
            f(term);
        });
    }

    /// The distinct known terms of `text` (a query's: unknown words match nothing).
    pub fn lookup(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        words(text, |w| {
            let term = match self.words.get(w) {
                Some(&term) => Some(term),
                None => self.stems.get(STEMMER.stem(w).as_ref()).copied(),
            };
            out.extend(term);
        });
        out.sort_unstable();
        out.dedup();
        out
    }

    /// How many terms there are.
    pub fn len(&self) -> usize {
        self.stems.len()
    }

    /// Its words and stems with their terms, to be saved.
    pub(crate) fn parts(&self) -> (Terms, Terms) {
        let pairs = |map: &HashMap<String, u32, FnvBuild>| {
            map.iter().map(|(w, &t)| (w.clone(), t)).collect()
        };
        (pairs(&self.words), pairs(&self.stems))
    }

    /// A vocabulary from saved parts; `None` unless the stems number the terms 0..n once each and every word
    /// names one of them.
    pub(crate) fn from_parts(words: Terms, stems: Terms) -> Option<Self> {
        let n = stems.len();
        let mut seen = vec![false; n];
        for &(_, term) in &stems {
            let slot = seen.get_mut(term as usize)?;
            if std::mem::replace(slot, true) {
                return None;
            }
        }
        if words.iter().any(|&(_, term)| term as usize >= n) {
            return None;
        }
        let vocabulary = Vocabulary {
            words: words.into_iter().collect(),
            stems: stems.into_iter().collect(),
        };
        // A stem saved twice would leave a term no stem names.
        (vocabulary.stems.len() == n).then_some(vocabulary)
    }
}

/// FNV-1a as a `HashMap` hasher: words are short, and SipHash's resistance to crafted keys buys little for an
/// index of one's own documents.
#[derive(Default)]
pub struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let start = if self.0 == 0 {
            crate::FNV1A64_OFFSET
        } else {
            self.0
        };
        self.0 = crate::fnv1a64_extend(start, bytes);
    }
}

/// Builds [`Fnv`] hashers.
pub type FnvBuild = std::hash::BuildHasherDefault<Fnv>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopwords_are_sorted_for_binary_search() {
        assert!(STOPWORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn the_vocabulary_numbers_stems_once() {
        let mut v = Vocabulary::default();
        let mut seen = Vec::new();
        v.intern("Tests test testing; the flaky TESTS", |t| seen.push(t));
        assert_eq!(seen, [0, 0, 0, 1, 0]);
        assert_eq!(v.len(), 2);
        assert_eq!(v.lookup("Why is the test flaky? unknown"), [0, 1]);
        assert!(v.lookup("the of").is_empty());
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
