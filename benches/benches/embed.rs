//! Embedding throughput of the local model all-MiniLM-L6-v2 (`BertEmbedder`, CPU): one sentence per call, and
//! batches of 32, against the built-in lexical embedder; and the time to load the model.
//!
//! `cargo bench -p memory-benches --bench embed` (the model comes from `scripts/install-test-deps.sh`).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use memory_core::{BertEmbedder, Embedder, LexicalEmbedder};

/// Memories of the length agents store: 12 to 30 words.
const SENTENCES: &[&str] = &[
    "The settlement test is flaky because retries sleep on the wall clock instead of tokio's paused clock.",
    "Use IMMEDIATE transactions with a busy timeout so two writers wait instead of failing with SQLITE_BUSY.",
    "Deploys go out on Tuesdays after the standup; hotfixes need a second reviewer.",
    "The payments service rounds currency amounts with banker's rounding, never with f64 arithmetic.",
    "Alice prefers small pull requests with one commit per logical change and a test for every bug fix.",
    "cargo build is slow on the CI machine because candle is compiled with opt-level 3 in debug builds.",
    "The webhook handler must be idempotent: providers retry deliveries for up to three days.",
    "Migration 4 added the embedding column; vectors of different models are never compared.",
];

fn sentences(n: usize) -> Vec<&'static str> {
    SENTENCES.iter().copied().cycle().take(n).collect()
}

fn embed(c: &mut Criterion) {
    let dir = test_utils::minilm_dir();
    let model = BertEmbedder::load(&dir).unwrap_or_else(|err| {
        panic!("{err}: run scripts/install-test-deps.sh to install all-MiniLM-L6-v2")
    });
    let mut group = c.benchmark_group("embed/minilm");
    group.sample_size(10);
    group.bench_function("load", |b| {
        b.iter(|| BertEmbedder::load(&dir).expect("load"))
    });
    group.finish();

    let lexical = LexicalEmbedder::default();
    let embedders: [(&str, &dyn Embedder); 2] = [("minilm", &model), ("lexical", &lexical)];
    for (name, embedder) in embedders {
        let mut group = c.benchmark_group(format!("embed/{name}"));
        group.throughput(Throughput::Elements(1));
        let mut next = 0;
        group.bench_function("single", |b| {
            b.iter(|| {
                next = (next + 1) % SENTENCES.len();
                embedder.embed(&[SENTENCES[next]]).expect("embed")
            })
        });
        let batch = sentences(32);
        group.throughput(Throughput::Elements(batch.len() as u64));
        group.bench_function("batch32", |b| {
            b.iter(|| embedder.embed(&batch).expect("embed"))
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = embed
}
criterion_main!(benches);
