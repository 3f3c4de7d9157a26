//! `eval retrieval` on a small LoCoMo-format fixture written for these tests.

use crate::support::{Cli, failed};

fn fixture() -> String {
    format!(
        "{}/tests/fixtures/locomo-mini.json",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn retrieval_eval_reports_every_category_of_the_fixture() {
    let cli = Cli::new();
    let report = cli.json(&[
        "eval",
        "retrieval",
        "--ranking",
        "bm25",
        "--dataset",
        &fixture(),
    ]);
    assert_eq!(report["conversations"], 2);
    assert_eq!(report["turns"], 27);
    assert_eq!(
        report["overall"]["questions"], 12,
        "category 5 and questions without evidence are skipped"
    );
    for category in ["1", "2", "3", "4"] {
        let m = &report["by_category"][category];
        let r1 = m["recall_at_1"].as_f64().expect("recall@1");
        let r5 = m["recall_at_5"].as_f64().expect("recall@5");
        let r10 = m["recall_at_10"].as_f64().expect("recall@10");
        assert!(
            (0.0..=1.0).contains(&r1) && r1 <= r5 && r5 <= r10,
            "category {category}: {m}"
        );
        assert!(
            m["latency_p50_ms"].as_f64().expect("p50")
                <= m["latency_p95_ms"].as_f64().expect("p95")
        );
    }
    // Every evidence turn of this fixture shares words with its question, so BM25 finds it in the top 10.
    assert_eq!(report["overall"]["recall_at_10"], 1.0);
    assert_eq!(report["ranking"], "bm25");
    let hybrid = cli.json(&["eval", "retrieval", "--dataset", &fixture()]);
    assert_eq!(
        hybrid["ranking"], "hybrid with lexical-v1-384",
        "hybrid is the default"
    );
    assert_eq!(hybrid["overall"]["questions"], 12);
    let bm25_mrr = report["overall"]["mrr"].as_f64().expect("mrr");
    assert!(
        hybrid["overall"]["mrr"].as_f64().expect("mrr") >= bm25_mrr,
        "hybrid ranks the evidence at least as well as BM25: {hybrid} vs {report}"
    );
    let table = cli.text(&["eval", "retrieval", "--dataset", &fixture()]);
    assert!(
        table.contains("4 single-hop") && table.contains("overall"),
        "{table}"
    );
}

#[test]
fn a_file_that_is_not_a_dataset_is_refused() {
    let cli = Cli::new();
    let path = cli.path().join("notes.json");
    std::fs::write(&path, r#"{"not": "a list"}"#).expect("write");
    failed(
        cli.run(&[
            "eval",
            "retrieval",
            "--dataset",
            path.to_str().expect("utf-8"),
        ]),
        "is not a LoCoMo-format dataset",
    );
    failed(
        cli.run(&["eval", "retrieval", "--dataset", "/no/such/file.json"]),
        "cannot read /no/such/file.json",
    );
}
