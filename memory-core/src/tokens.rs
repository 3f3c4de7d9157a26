//! cl100k token counts (the BPE of GPT-4-class models), exactly as tiktoken counts them, with nothing to load:
//! the vocabulary is a table in the binary (written by `build.rs` from tiktoken-rs's ranks) searched in place.
//! A short-lived process, such as a hook, counts its first token without first decoding and hashing 100K ranks.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::OnceLock;

use regex::Regex;

static TABLE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/cl100k.bin"));

/// cl100k's pre-tokenizer, `'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+|
/// ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s`, without what the linear-time engine lacks: the
/// possessive quantifiers change no match here, and `\s+(?!\S)` is `\s+` given back its last character when a
/// non-space follows (`piece_end`).
const SPLIT: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s+$|\s*[\r\n]|\s+";

fn splitter() -> &'static Regex {
    static SPLITTER: OnceLock<Regex> = OnceLock::new();
    SPLITTER.get_or_init(|| Regex::new(SPLIT).expect("the cl100k split pattern is valid"))
}

/// The number of cl100k tokens in `text` (no special tokens: `<|endoftext|>` counts as the text it is).
pub fn count(text: &str) -> usize {
    let mut tokens = 0;
    let mut at = 0;
    while let Some(found) = splitter().find_at(text, at) {
        let end = piece_end(text, found.start(), found.end());
        tokens += piece_tokens(&text.as_bytes()[found.start()..end]);
        at = end;
    }
    tokens
}

/// Where the piece `text[start..end]` really ends: a run of spaces with no line break, followed by more text,
/// leaves its last character to go with what follows (the `\s+(?!\S)` alternative).
fn piece_end(text: &str, start: usize, end: usize) -> usize {
    let piece = &text[start..end];
    let spaces_only = piece.chars().all(char::is_whitespace);
    if !spaces_only || end == text.len() || piece.ends_with(['\r', '\n']) {
        return end;
    }
    match piece.char_indices().last() {
        Some((last, _)) if last > 0 => start + last,
        _ => end,
    }
}

/// Tokens in one piece: one if the vocabulary holds it whole, else the parts left by merging adjacent parts,
/// lowest rank first (leftmost among equals).
fn piece_tokens(piece: &[u8]) -> usize {
    if piece.len() < 2 || rank(piece).is_some() {
        return usize::from(!piece.is_empty());
    }
    let len = piece.len();
    // Parts are byte ranges named by their start: `next[start]` is where the following part starts.
    let mut next: Vec<usize> = (1..=len).collect();
    let mut previous: Vec<Option<usize>> = (0..len).map(|i| i.checked_sub(1)).collect();
    // The rank of the merge of the part at `start` with the following one; `u32::MAX` when there is none.
    let rank_after = |start: usize, next: &[usize]| match next[start] {
        middle if middle < len => rank(&piece[start..next[middle]]).unwrap_or(u32::MAX),
        _ => u32::MAX,
    };
    let mut merge_rank: Vec<u32> = (0..len).map(|start| rank_after(start, &next)).collect();
    let mut queue: BinaryHeap<_> = merge_rank
        .iter()
        .enumerate()
        .filter(|&(_, &rank)| rank != u32::MAX)
        .map(|(start, &rank)| Reverse((rank, start)))
        .collect();
    let mut parts = len;
    while let Some(Reverse((merged, start))) = queue.pop() {
        // A rank names one byte string, so an entry still current is the merge it was queued for.
        if merge_rank[start] != merged {
            continue;
        }
        let gone = next[start];
        next[start] = next[gone];
        if next[gone] < len {
            previous[next[gone]] = Some(start);
        }
        merge_rank[gone] = u32::MAX;
        parts -= 1;
        for changed in [Some(start), previous[start]].into_iter().flatten() {
            merge_rank[changed] = rank_after(changed, &next);
            if merge_rank[changed] != u32::MAX {
                queue.push(Reverse((merge_rank[changed], changed)));
            }
        }
    }
    parts
}

fn word(index: usize) -> u32 {
    let at = 4 * index;
    u32::from_le_bytes([TABLE[at], TABLE[at + 1], TABLE[at + 2], TABLE[at + 3]])
}

/// The rank of the token whose bytes are `bytes`, by binary search of the table.
fn rank(bytes: &[u8]) -> Option<u32> {
    let count = word(0) as usize;
    let offsets = 1;
    let ranks = offsets + count + 1;
    let data = 4 * (ranks + count);
    let token =
        |i: usize| &TABLE[data + word(offsets + i) as usize..data + word(offsets + i + 1) as usize];
    let (mut low, mut high) = (0, count);
    while low < high {
        let middle = low + (high - low) / 2;
        match token(middle).cmp(bytes) {
            std::cmp::Ordering::Less => low = middle + 1,
            std::cmp::Ordering::Greater => high = middle,
            std::cmp::Ordering::Equal => return Some(word(ranks + middle)),
        }
    }
    None
}
