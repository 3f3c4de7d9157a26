use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::OnceLock,
};

use super::*;
use crate::cosine;

/// all-MiniLM-L6-v2 as `scripts/install-test-deps.sh` installs it.
fn minilm_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/models/all-MiniLM-L6-v2");
    assert!(
        dir.join("model.safetensors").is_file(),
        "all-MiniLM-L6-v2 is not installed at {}: run scripts/install-test-deps.sh",
        dir.display()
    );
    dir
}

fn minilm() -> &'static BertEmbedder {
    static MODEL: OnceLock<BertEmbedder> = OnceLock::new();
    MODEL.get_or_init(|| BertEmbedder::load(&minilm_dir()).expect("load all-MiniLM-L6-v2"))
}

fn one(e: &BertEmbedder, text: &str) -> Vec<f32> {
    e.embed(&[text]).expect("embed").remove(0)
}

/// A copy of the model's small files in a scratch directory, without `leave_out`; `model.safetensors` is linked
/// in only when asked for.
fn partial_copy(leave_out: &[&str], weights: bool) -> tempfile::TempDir {
    let scratch = tempfile::tempdir().expect("tempdir");
    let from = minilm_dir();
    for name in [
        "config.json",
        "tokenizer.json",
        "modules.json",
        "1_Pooling/config.json",
        "sentence_bert_config.json",
    ] {
        if !leave_out.contains(&name) {
            let to = scratch.path().join(name);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(from.join(name), to).expect("copy");
        }
    }
    if weights {
        std::fs::copy(
            from.join("model.safetensors"),
            scratch.path().join("model.safetensors"),
        )
        .expect("copy weights");
    }
    scratch
}

fn load_error(dir: &Path) -> String {
    match BertEmbedder::load(dir) {
        Ok(_) => panic!("{} loaded", dir.display()),
        Err(err) => {
            assert!(matches!(err, Error::Model { .. }), "{err:?}");
            err.to_string()
        }
    }
}

#[test]
fn minilm_gives_unit_vectors_that_capture_meaning() {
    let e = minilm();
    assert_eq!(e.id(), "bert:all-MiniLM-L6-v2:384");
    assert_eq!(e.dimension(), 384);
    assert_eq!(BertModelInfo::read(&minilm_dir()).expect("info"), *e.info());
    let query = one(e, "How do I stop the settlement test from being flaky?");
    let paraphrase = one(
        e,
        "The payment settlement test fails intermittently; how can I fix it?",
    );
    // No word in common with the query beyond "the", unlike what the lexical embedder would need.
    let unrelated = one(e, "Deploys go out on Tuesdays after the standup meeting.");
    for v in [&query, &paraphrase, &unrelated] {
        assert_eq!(v.len(), 384);
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
    let (near, far) = (cosine(&query, &paraphrase), cosine(&query, &unrelated));
    assert!(near > 0.5, "paraphrase {near}");
    assert!(near > far + 0.3, "paraphrase {near} vs unrelated {far}");
    let synonyms = (
        one(e, "the car would not start"),
        one(e, "my automobile failed to start"),
        one(e, "the car is painted red"),
    );
    assert!(
        cosine(&synonyms.0, &synonyms.1) > cosine(&synonyms.1, &synonyms.2),
        "synonyms count as alike"
    );
}

#[test]
fn a_batch_equals_one_text_at_a_time() {
    let e = minilm();
    let texts = [
        "short",
        "A much longer sentence about retrying HTTP requests with exponential backoff and jitter.",
        "",
        "Why does cargo rebuild everything after I change a feature flag?",
        "   ",
        "tokio block_in_place",
    ];
    let batch = e.embed(&texts).expect("embed batch");
    assert_eq!(batch.len(), texts.len());
    for (text, vector) in texts.iter().zip(&batch) {
        let alone = one(e, text);
        let gap = alone
            .iter()
            .zip(vector)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(gap < 1e-4, "{text:?} differs by {gap}");
    }
    assert_eq!(
        batch[2],
        vec![0.0; 384],
        "an empty text gives the zero vector"
    );
    assert_eq!(batch[4], vec![0.0; 384]);
    assert!(e.embed(&[]).expect("embed nothing").is_empty());
}

#[test]
fn long_texts_are_cut_at_max_seq_length() {
    let e = minilm();
    // 400 words is well past the 256 tokens of sentence_bert_config.json.
    let long = "memory ".repeat(400);
    let longer = format!("{long} and then something else entirely about databases");
    let (a, b) = (one(e, &long), one(e, &longer));
    assert_eq!(a.len(), 384);
    assert!(
        cosine(&a, &b) > 0.9999,
        "the tail past the limit is ignored"
    );
    let short = one(
        e,
        "memory memory memory and then something else entirely about databases",
    );
    assert!(cosine(&short, &one(e, "memory memory memory")) < 0.9999);
}

#[test]
fn weights_with_the_bert_prefix_load_the_same_model() {
    let scratch = partial_copy(&[], false);
    let bytes = std::fs::read(minilm_dir().join("model.safetensors")).unwrap();
    let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu).unwrap();
    let prefixed: HashMap<String, Tensor> = tensors
        .into_iter()
        .map(|(name, tensor)| (format!("bert.{name}"), tensor))
        .collect();
    candle_core::safetensors::save(&prefixed, scratch.path().join("model.safetensors")).unwrap();
    let renamed = BertEmbedder::load(scratch.path()).expect("load prefixed weights");
    let text = "prefixed tensor names";
    assert!(cosine(&one(&renamed, text), &one(minilm(), text)) > 0.99999);
}

#[test]
fn a_missing_file_is_named_with_its_directory() {
    let scratch = partial_copy(&["tokenizer.json"], false);
    let message = load_error(scratch.path());
    assert!(message.contains("tokenizer.json is missing"), "{message}");
    assert!(
        message.contains(&scratch.path().display().to_string()),
        "{message}"
    );

    let scratch = partial_copy(&[], false);
    let message = load_error(scratch.path());
    assert!(
        message.contains("model.safetensors is missing"),
        "{message}"
    );

    let message = load_error(&scratch.path().join("nowhere"));
    assert!(message.ends_with("not a directory"), "{message}");
}

#[test]
fn truncated_weights_are_reported_as_truncated() {
    let scratch = partial_copy(&[], false);
    let bytes = std::fs::read(minilm_dir().join("model.safetensors")).unwrap();
    let path = scratch.path().join("model.safetensors");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let message = load_error(scratch.path());
    assert!(
        message.contains("model.safetensors is truncated"),
        "{message}"
    );

    std::fs::write(&path, &bytes[..100]).unwrap();
    let message = load_error(scratch.path());
    assert!(
        message.contains("model.safetensors is truncated or not a safetensors file"),
        "{message}"
    );
    std::fs::write(&path, b"").unwrap();
    let message = load_error(scratch.path());
    assert!(
        message.contains("model.safetensors is truncated: 0 bytes"),
        "{message}"
    );
}

#[test]
fn corrupt_json_files_are_named_with_what_is_wrong() {
    let scratch = partial_copy(&[], false);
    let config = scratch.path().join("config.json");
    std::fs::write(&config, "{\"hidden_size\": 384").unwrap();
    let message = load_error(scratch.path());
    assert!(message.contains("config.json is invalid: "), "{message}");

    let text = std::fs::read_to_string(minilm_dir().join("config.json")).unwrap();
    std::fs::write(&config, text.replace("\"bert\"", "\"mpnet\"")).unwrap();
    let message = load_error(scratch.path());
    assert!(
        message.contains("model_type \"mpnet\" is not supported"),
        "{message}"
    );

    std::fs::write(&config, &text).unwrap();
    std::fs::write(scratch.path().join("tokenizer.json"), "not json").unwrap();
    let message = load_error(scratch.path());
    assert!(message.contains("tokenizer.json is invalid: "), "{message}");
}

#[test]
fn pooling_follows_the_model_files() {
    let scratch = partial_copy(&[], false);
    let dir = scratch.path();
    assert_eq!(read_pooling(dir, 384).unwrap(), Pooling::Mean);
    let pooling = dir.join("1_Pooling/config.json");
    let text = std::fs::read_to_string(&pooling).unwrap();
    let cls = text
        .replace(
            "\"pooling_mode_cls_token\": false",
            "\"pooling_mode_cls_token\": true",
        )
        .replace(
            "\"pooling_mode_mean_tokens\": true",
            "\"pooling_mode_mean_tokens\": false",
        );
    std::fs::write(&pooling, &cls).unwrap();
    assert_eq!(read_pooling(dir, 384).unwrap(), Pooling::Cls);

    let both = text.replace(
        "\"pooling_mode_cls_token\": false",
        "\"pooling_mode_cls_token\": true",
    );
    std::fs::write(&pooling, both).unwrap();
    let message = read_pooling(dir, 384).unwrap_err().to_string();
    assert!(
        message.contains("combining pooling modes (mean, cls) is not supported"),
        "{message}"
    );
    let message = read_pooling(dir, 768).unwrap_err().to_string();
    assert!(
        message.contains("word_embedding_dimension 384 differs from hidden_size 768"),
        "{message}"
    );

    // A pooling module that modules.json names must be there.
    std::fs::remove_dir_all(dir.join("1_Pooling")).unwrap();
    let message = read_pooling(dir, 384).unwrap_err().to_string();
    assert!(
        message.contains("1_Pooling/config.json is missing"),
        "{message}"
    );

    // Without modules.json and the pooling folder: mean pooling, the sentence-transformers default.
    std::fs::remove_file(dir.join("modules.json")).unwrap();
    assert_eq!(read_pooling(dir, 384).unwrap(), Pooling::Mean);

    std::fs::write(
        dir.join("modules.json"),
        r#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
            {"idx":1,"name":"1","path":"2_Dense","type":"sentence_transformers.models.Dense"}]"#,
    )
    .unwrap();
    let message = read_pooling(dir, 384).unwrap_err().to_string();
    assert!(message.contains("module Dense"), "{message}");
}

#[test]
fn cls_pooling_differs_from_mean_pooling() {
    let scratch = partial_copy(&[], true);
    let pooling = scratch.path().join("1_Pooling/config.json");
    let text = std::fs::read_to_string(&pooling).unwrap();
    std::fs::write(
        &pooling,
        text.replace(
            "\"pooling_mode_cls_token\": false",
            "\"pooling_mode_cls_token\": true",
        )
        .replace(
            "\"pooling_mode_mean_tokens\": true",
            "\"pooling_mode_mean_tokens\": false",
        ),
    )
    .unwrap();
    let cls = BertEmbedder::load(scratch.path()).expect("load");
    let text = "pooling by the first token";
    let (a, b) = (one(&cls, text), one(minilm(), text));
    let norm = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4);
    assert!(
        cosine(&a, &b) < 0.99,
        "cls and mean pooling agree: {}",
        cosine(&a, &b)
    );
}
