//! Text analysis for full-text ranking: words, lowercased, without common English words, stemmed.

use std::sync::LazyLock;

use hashbrown::HashTable;

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

/// Where a string is in [`Vocabulary::text`].
#[derive(Clone, Copy, Debug)]
struct Span {
    start: u32,
    len: u32,
}

/// A collection's terms, numbered: each distinct word is stemmed once, when first seen.
///
/// Every word and stem is kept once, back to back in one string, and the two tables hold only numbers: a
/// collection of free text meets hundreds of thousands of distinct words (names, numbers, identifiers), and a
/// `String` key each would cost more than their postings.
#[derive(Debug, Default)]
pub struct Vocabulary {
    /// The words and stems.
    text: String,
    /// By term: its stem.
    stems: Vec<Span>,
    /// The terms, found by their stem.
    by_stem: HashTable<u32>,
    /// The lowercased words seen, with their terms.
    by_word: HashTable<(Span, u32)>,
}

fn hash(s: &str) -> u64 {
    crate::fnv1a64(s.as_bytes())
}

impl Vocabulary {
    fn get(&self, span: Span) -> &str {
        let start = span.start as usize;
        &self.text[start..start + span.len as usize]
    }

    /// Adds `s` to the text. Spans are 32-bit: past 4 GiB of distinct words, `None`.
    fn push(&mut self, s: &str) -> Option<Span> {
        let span = Span {
            start: u32::try_from(self.text.len()).ok()?,
            len: u32::try_from(s.len()).ok()?,
        };
        u32::try_from(self.text.len() + s.len()).ok()?;
        self.text.push_str(s);
        Some(span)
    }

    fn word(&self, word: &str) -> Option<u32> {
        let found = self
            .by_word
            .find(hash(word), |&(span, _)| self.get(span) == word);
        found.map(|&(_, term)| term)
    }

    fn stem(&self, stem: &str) -> Option<u32> {
        let found = self.by_stem.find(hash(stem), |&term| {
            self.get(self.stems[term as usize]) == stem
        });
        found.copied()
    }

    /// The term of `stem`, numbering it if it is new.
    fn stem_term(&mut self, stem: &str) -> Option<u32> {
        if let Some(term) = self.stem(stem) {
            return Some(term);
        }
        let term = u32::try_from(self.stems.len()).ok()?;
        let span = self.push(stem)?;
        self.stems.push(span);
        let (text, stems) = (&self.text, &self.stems);
        let rehash = |&t: &u32| {
            let s = stems[t as usize];
            hash(&text[s.start as usize..(s.start + s.len) as usize])
        };
        self.by_stem.insert_unique(hash(stem), term, rehash);
        Some(term)
    }

    /// Records that `word` stands for `term`.
    fn add_word(&mut self, word: &str, term: u32) -> Option<()> {
        let span = self.push(word)?;
        let text = &self.text;
        let rehash =
            |&(s, _): &(Span, u32)| hash(&text[s.start as usize..(s.start + s.len) as usize]);
        self.by_word.insert_unique(hash(word), (span, term), rehash);
        Some(())
    }

    /// The terms of `text`, in order, repeats kept, numbering new ones. (Past 4 GiB of distinct words, new
    /// words are left out.)
    pub fn intern(&mut self, text: &str, mut f: impl FnMut(u32)) {
        words(text, |w| {
            let term = match self.word(w) {
                Some(term) => Some(term),
                None => self
                    .stem_term(&STEMMER.stem(w))
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
        self.text.capacity()
            + self.stems.capacity() * size_of::<Span>()
            + super::map_bytes(self.by_stem.capacity(), size_of::<u32>())
            + super::map_bytes(self.by_word.capacity(), size_of::<(Span, u32)>())
    }

    /// How many terms there are.
    pub fn len(&self) -> usize {
        self.stems.len()
    }

    /// Gives back the room its arrays grew beyond their contents.
    pub fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.stems.shrink_to_fit();
        let text = &self.text;
        let at = |s: Span| &text[s.start as usize..(s.start + s.len) as usize];
        let stems = &self.stems;
        self.by_stem.shrink_to_fit(|&t| hash(at(stems[t as usize])));
        self.by_word.shrink_to_fit(|&(s, _)| hash(at(s)));
    }

    /// Its words and stems with their terms, to be saved.
    pub(crate) fn parts(&self) -> (Terms, Terms) {
        let words = self.by_word.iter();
        let words = words.map(|&(span, term)| (self.get(span).to_string(), term));
        let stems = self.stems.iter().enumerate();
        let stems = stems.map(|(term, &span)| (self.get(span).to_string(), term as u32));
        (words.collect(), stems.collect())
    }

    /// A vocabulary from saved parts; `None` unless the stems number the terms 0..n once each, no string is saved
    /// twice and every word names one of them.
    pub(crate) fn from_parts(words: Terms, mut stems: Terms) -> Option<Self> {
        let n = stems.len();
        stems.sort_unstable_by_key(|&(_, term)| term);
        let mut v = Vocabulary::default();
        for (i, (stem, term)) in stems.into_iter().enumerate() {
            if term as usize != i || v.stem_term(&stem)? != term {
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
