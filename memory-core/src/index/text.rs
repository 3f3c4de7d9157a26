//! Text analysis for full-text ranking: words, lowercased, without common English words, stemmed.

use std::sync::LazyLock;

use super::strings::Strings;
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

/// A collection's terms, numbered: each distinct word is stemmed once, when first seen. A term is the number of
/// its stem; a word maps to its term.
#[derive(Debug, Default)]
pub struct Vocabulary {
    stems: Strings,
    /// The lowercased words seen.
    words: Strings,
    /// By word: its term.
    word_terms: Vec<u32>,
}

impl Vocabulary {
    fn word(&self, word: &str) -> Option<u32> {
        self.words.find(word).map(|w| self.word_terms[w as usize])
    }

    fn stem(&self, stem: &str) -> Option<u32> {
        self.stems.find(stem)
    }

    /// Records that `word`, not seen before, stands for `term`.
    fn add_word(&mut self, word: &str, term: u32) -> Option<()> {
        self.words.intern(word)?;
        self.word_terms.push(term);
        Some(())
    }

    /// The terms of `text`, in order, repeats kept, numbering new ones. (Past 4 GiB of distinct words, new
    /// words are left out.)
    pub fn intern(&mut self, text: &str, mut f: impl FnMut(u32)) {
        words(text, |w| {
            let term = match self.word(w) {
                Some(term) => Some(term),
                None => self
                    .stems
                    .intern(&STEMMER.stem(w))
                    .and_then(|term| self.add_word(w, term).map(|()| term)),
            };
            if let Some(term) = term {
                f(term);
            }
        });
    }

    /// The distinct known terms of `text` (a query's: unknown words match nothing).
    pub fn lookup(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        words(text, |w| {
            out.extend(self.word(w).or_else(|| self.stem(&STEMMER.stem(w))));
        });
        out.sort_unstable();
        out.dedup();
        out
    }

    /// About how many bytes it holds.
    pub fn memory(&self) -> usize {
        self.stems.memory() + self.words.memory() + self.word_terms.capacity() * size_of::<u32>()
    }

    /// How many terms there are.
    pub fn len(&self) -> usize {
        self.stems.len()
    }

    /// Gives back the room its arrays grew beyond their contents.
    pub fn shrink_to_fit(&mut self) {
        self.stems.shrink_to_fit();
        self.words.shrink_to_fit();
        self.word_terms.shrink_to_fit();
    }

    /// Its words and stems with their terms, to be saved.
    pub(crate) fn parts(&self) -> (Terms, Terms) {
        let words = self.words.iter().zip(&self.word_terms);
        let words = words.map(|(word, &term)| (word.to_string(), term));
        let stems = self.stems.iter().enumerate();
        let stems = stems.map(|(term, stem)| (stem.to_string(), term as u32));
        (words.collect(), stems.collect())
    }

    /// A vocabulary from saved parts; `None` unless the stems number the terms 0..n once each, no string is saved
    /// twice and every word names one of them.
    pub(crate) fn from_parts(words: Terms, mut stems: Terms) -> Option<Self> {
        let n = stems.len();
        stems.sort_unstable_by_key(|&(_, term)| term);
        let mut v = Vocabulary::default();
        for (i, (stem, term)) in stems.into_iter().enumerate() {
            if term as usize != i || v.stems.intern(&stem)? != term {
                return None;
            }
        }
        for (word, term) in words {
            if term as usize >= n || v.word(&word).is_some() {
                return None;
            }
            v.add_word(&word, term)?;
        }
        Some(v)
    }
}

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
