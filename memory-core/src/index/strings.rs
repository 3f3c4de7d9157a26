//! Numbered distinct strings: every string is kept once, back to back in one `String`, and the table that finds
//! them holds only their numbers. A collection meets hundreds of thousands of distinct words and tens of
//! thousands of distinct label sets, and a `String` each would cost more than what refers to them.

use hashbrown::HashTable;

/// Where a string is in [`Strings::text`].
#[derive(Clone, Copy, Debug)]
struct Span {
    start: u32,
    len: u32,
}

/// Distinct strings numbered 0, 1, … in the order they were added.
#[derive(Clone, Debug, Default)]
pub(super) struct Strings {
    text: String,
    /// By number: where the string is.
    spans: Vec<Span>,
    /// The numbers, found by their string.
    table: HashTable<u32>,
}

fn hash(s: &str) -> u64 {
    use std::hash::BuildHasher as _;
    foldhash::fast::FixedState::with_seed(0).hash_one(s)
}

/// The hash of the string numbered `id`, for the table to move it.
fn rehash(text: &str, spans: &[Span], id: u32) -> u64 {
    let s = spans[id as usize];
    hash(&text[s.start as usize..(s.start + s.len) as usize])
}

impl Strings {
    /// Room for `strings` strings of `bytes` bytes in all, added without growing.
    pub(super) fn with_capacity(strings: usize, bytes: usize) -> Self {
        Strings {
            text: String::with_capacity(bytes),
            spans: Vec::with_capacity(strings),
            table: HashTable::with_capacity(strings),
        }
    }

    /// The string numbered `id` (empty when there is none).
    pub(super) fn get(&self, id: u32) -> &str {
        self.spans.get(id as usize).map_or("", |s| {
            let start = s.start as usize;
            &self.text[start..start + s.len as usize]
        })
    }

    /// The number of `s`, if it is known.
    pub(super) fn find(&self, s: &str) -> Option<u32> {
        self.table.find(hash(s), |&id| self.get(id) == s).copied()
    }

    /// The number of `s`, numbering it if it is new. Numbers and offsets are 32-bit: past 4 GiB of text or
    /// 2³² strings, `None`.
    pub(super) fn intern(&mut self, s: &str) -> Option<u32> {
        if let Some(id) = self.find(s) {
            return Some(id);
        }
        let id = u32::try_from(self.spans.len()).ok()?;
        let span = Span {
            start: u32::try_from(self.text.len()).ok()?,
            len: u32::try_from(s.len()).ok()?,
        };
        u32::try_from(self.text.len() + s.len()).ok()?;
        self.text.push_str(s);
        self.spans.push(span);
        let (text, spans) = (&self.text, &self.spans);
        let rehash = |&id: &u32| rehash(text, spans, id);
        self.table.insert_unique(hash(s), id, rehash);
        Some(id)
    }

    /// How many strings there are.
    pub(super) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The strings, by number.
    pub(super) fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.spans.len() as u32).map(|id| self.get(id))
    }

    /// About how many bytes it holds.
    pub(super) fn memory(&self) -> usize {
        self.text.capacity()
            + self.spans.capacity() * size_of::<Span>()
            + super::map_bytes(self.table.capacity(), size_of::<u32>())
    }

    /// Gives back the room its arrays grew beyond their contents.
    pub(super) fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.spans.shrink_to_fit();
        let (text, spans) = (&self.text, &self.spans);
        self.table.shrink_to_fit(|&id| rehash(text, spans, id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_string_is_numbered_once_in_order() {
        let mut s = Strings::default();
        assert_eq!(s.intern("async"), Some(0));
        assert_eq!(s.intern("ci"), Some(1));
        assert_eq!(s.intern("async"), Some(0));
        assert_eq!(s.intern(""), Some(2));
        assert_eq!((s.find("ci"), s.find("db")), (Some(1), None));
        assert_eq!(s.iter().collect::<Vec<_>>(), ["async", "ci", ""]);
        assert_eq!((s.len(), s.get(1), s.get(9)), (3, "ci", ""));
    }
}
