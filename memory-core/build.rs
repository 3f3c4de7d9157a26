//! Writes cl100k's vocabulary (from tiktoken-rs's ranks) as a table that `memory_core::tokens` searches in
//! place, so that counting tokens costs a process nothing at start.
//!
//! Layout, all integers little-endian `u32`: the number of tokens `n`; `n + 1` offsets into the bytes; `n` ranks;
//! then the tokens' bytes, in byte order.

use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let bpe = tiktoken_rs::cl100k_base().expect("tiktoken-rs carries the cl100k ranks");
    let mut tokens: Vec<(Vec<u8>, u32)> = (0..200_000u32)
        .map_while(|rank| bpe.decode_bytes(&[rank]).ok().map(|bytes| (bytes, rank)))
        .collect();
    assert_eq!(tokens.len(), 100_256, "cl100k has 100,256 ordinary tokens");
    tokens.sort();
    let count = u32::try_from(tokens.len()).expect("fewer than 2^32 tokens");
    let mut table = count.to_le_bytes().to_vec();
    let mut offset = 0u32;
    for (bytes, _) in &tokens {
        table.extend_from_slice(&offset.to_le_bytes());
        offset += u32::try_from(bytes.len()).expect("short tokens");
    }
    table.extend_from_slice(&offset.to_le_bytes());
    for (_, rank) in &tokens {
        table.extend_from_slice(&rank.to_le_bytes());
    }
    for (bytes, _) in &tokens {
        table.extend_from_slice(bytes);
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("cl100k.bin"), table).expect("OUT_DIR is writable");
}
