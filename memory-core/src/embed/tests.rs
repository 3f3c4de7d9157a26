use super::*;

fn one(e: &LexicalEmbedder, text: &str) -> Vec<f32> {
    e.embed(&[text]).expect("embed").remove(0)
}

#[test]
fn vectors_are_normalised_deterministic_and_sized() {
    let e = LexicalEmbedder::default();
    assert_eq!(e.id(), "lexical-v1-384");
    let v = one(&e, "The settlement test is flaky");
    assert_eq!(v.len(), 384);
    let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5);
    assert_eq!(
        v,
        one(&LexicalEmbedder::default(), "The settlement test is flaky")
    );
    assert_eq!(
        one(&e, "  ?! "),
        vec![0.0; 384],
        "no words, the zero vector"
    );
    let batch = e.embed(&["a b", "c d"]).expect("embed");
    assert_eq!(batch, vec![one(&e, "a b"), one(&e, "c d")]);
}

#[test]
fn shared_words_and_word_forms_are_closer_than_unrelated_text() {
    let e = LexicalEmbedder::default();
    let query = one(&e, "why are the settlement tests flaky?");
    let related = one(
        &e,
        "The settlement test is flaky because retries sleep on the wall clock",
    );
    let unrelated = one(&e, "Deploys go out on Tuesdays after the standup");
    let (near, far) = (cosine(&query, &related), cosine(&query, &unrelated));
    assert!(near > far + 0.2, "related {near} vs unrelated {far}");
    assert!((cosine(&query, &query) - 1.0).abs() < 1e-5);
    assert_eq!(cosine(&query, &[0.0; 384]), 0.0);
}

#[test]
fn a_store_made_by_another_lexical_dimension_keeps_it() {
    let model = |id: &str, dimension| EmbeddingModel {
        id: id.into(),
        dimension,
    };
    let older = LexicalEmbedder::of_model(&model("lexical-v1-512", 512)).expect("lexical");
    assert_eq!((older.id(), older.dimension()), ("lexical-v1-512", 512));
    for other in [
        model("bert:all-MiniLM-L6-v2:384", 384),
        model("lexical-v1-512", 384),
        model("lexical-v1-8", 8),
        model("lexical-v1-x", 512),
    ] {
        assert!(LexicalEmbedder::of_model(&other).is_none(), "{other:?}");
    }
}
