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
pub(super) fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    words(text, |w| out.push(STEMMER.stem(w).into_owned()));
    out
}

/// A collection's terms, numbered: a term is the number of its stem. The words seen since the vocabulary was
/// made are kept with their terms, so indexing stems each distinct word once; a snapshot keeps only the stems
/// (the words of a large collection take as much memory again, and stemming a query's few words costs
/// microseconds).
#[derive(Debug, Default)]
pub struct Vocabulary {
    stems: Strings,
    /// Lowercased words seen, with their terms.
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

    /// Forgets the words seen (they are found again by their stems).
    pub fn forget_words(&mut self) {
        self.words = Strings::default();
        self.word_terms = Vec::new();
    }

    /// The stems, by term, to be saved.
    pub(crate) fn stems(&self) -> Vec<String> {
        self.stems.iter().map(str::to_string).collect()
    }

    /// A vocabulary of saved stems, numbered in order; `None` if one is saved twice.
    pub(crate) fn from_stems(stems: &[String]) -> Option<Self> {
        let bytes = stems.iter().map(String::len).sum();
        let mut v = Vocabulary {
            stems: Strings::with_capacity(stems.len(), bytes),
            ..Vocabulary::default()
        };
        for (i, stem) in stems.iter().enumerate() {
            if v.stems.intern(stem)? as usize != i {
                return None;
            }
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
    fn saved_stems_or_forgotten_words_give_the_same_terms() {
        let mut v = Vocabulary::default();
        let mut before = Vec::new();
        v.intern("Retries retried retrying flaky tests", |t| before.push(t));
        let mut saved = Vocabulary::from_stems(&v.stems()).unwrap();
        v.forget_words();
        let (mut forgotten, mut loaded) = (Vec::new(), Vec::new());
        v.intern("Retries retried retrying flaky tests", |t| {
            forgotten.push(t)
        });
        saved.intern("Retries retried retrying flaky tests", |t| loaded.push(t));
        assert_eq!((&forgotten, &loaded), (&before, &before));
        assert_eq!(saved.lookup("a flaky retry"), v.lookup("a flaky retry"));
        assert!(Vocabulary::from_stems(&["test".into(), "test".into()]).is_none());
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
