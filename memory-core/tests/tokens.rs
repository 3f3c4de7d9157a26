//! `context::count_tokens` against tiktoken itself (tiktoken-rs, a test dependency only): the same count for the
//! pre-tokenizer's edge cases, generated text from the characters it treats differently, and real text.

use memory_core::context::count_tokens;
use proptest::prelude::*;

fn tiktoken(text: &str) -> usize {
    tiktoken_rs::cl100k_base_singleton()
        .encode_ordinary(text)
        .len()
}

#[test]
fn edge_cases_count_as_tiktoken_counts_them() {
    let long_rule = "=".repeat(5_000);
    let long_word = "pneumonoultramicroscopic".repeat(200);
    let cases = [
        "",
        " ",
        "  ",
        "a  b",
        "a \n b",
        "trailing   ",
        "  \t\n",
        "\r\n\r\n  x",
        "x\n\n\n",
        "it's THEY'RE we'Ll I'D ſ 's'",
        "'hello 'ſ",
        "12345678901 ١٢٣٤ ½ Ⅻ",
        "日本語のテキストと English",
        "👩‍💻 emoji ✨✨",
        "\u{a0}x\u{3000}\u{3000}y\u{2028}z",
        "fn main() {\n    println!(\"{}\", 1 + 2);\n}\n",
        "<memory id=\"0192\" kind=\"decision\">\nUse `tokio::time::pause()`\n</memory>\n",
        "<|endoftext|> is text here",
        long_rule.as_str(),
        long_word.as_str(),
    ];
    for text in cases {
        assert_eq!(count_tokens(text), tiktoken(text), "{text:?}");
    }
}

#[test]
fn real_text_counts_as_tiktoken_counts_it() {
    for text in [
        include_str!("../../README.md"),
        include_str!("../../ARCHITECTURE.md"),
        include_str!("../src/context.rs"),
        include_str!("../../memory-cli/tests/fixtures/locomo-dev.json"),
    ] {
        assert_eq!(count_tokens(text), tiktoken(text));
    }
}

/// Characters from each class the split pattern tells apart: letters (Latin, long s, CJK, combining), digits
/// of several scripts, spaces and line breaks of several kinds, apostrophes and punctuation, emoji.
const ALPHABET: &[char] = &[
    'a', 'S', 's', 't', 'd', 'm', 'l', 'v', 'e', 'r', 'E', 'ſ', 'é', '語', '\u{301}', '0', '7',
    '٣', '½', ' ', ' ', '\t', '\n', '\r', '\u{a0}', '\u{3000}', '\u{2028}', '\'', '\'', '"', '.',
    '-', '=', '(', '_', '✨', '👩', '\u{200d}',
];

proptest! {
    #[test]
    fn generated_text_counts_as_tiktoken_counts_it(
        picks in proptest::collection::vec(0..ALPHABET.len(), 0..80),
    ) {
        let text: String = picks.iter().map(|&i| ALPHABET[i]).collect();
        prop_assert_eq!(count_tokens(&text), tiktoken(&text), "{:?}", text);
    }
}
