//! Imported messages and the memory records made of them are written in one transaction.

use memory_core::{
    Error, RecordQuery, Records, Scope,
    sessions::{Line, SessionMessage, SessionParser, message_record},
};
use memory_storage_turso::{DbConfig, TursoStore, sessions::MessageBatch};

fn messages() -> Vec<SessionMessage> {
    let mut parser = SessionParser::new("log.jsonl", None);
    [
        r#"{"content": "the settlement test is flaky under load", "timestamp": "2026-11-02T10:00:00Z", "session_id": "s1", "project": "payments"}"#,
        r#"{"content": "pinned the clock in the fixture", "timestamp": "2026-11-02T10:05:00Z", "session_id": "s1", "project": "payments"}"#,
    ]
    .iter()
    .enumerate()
    .flat_map(|(i, line)| match parser.parse(line, i as u64 + 1, 0) {
        Ok(Line::Messages(found)) => found,
        other => panic!("line {i}: {other:?}"),
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_and_its_records_are_stored_together_or_not_at_all() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = TursoStore::open(&DbConfig::local(dir.path().join("m.db")))
        .await
        .expect("open");
    let records = Records::new(store.clone());
    let run = store.begin_import().await.expect("run");
    let source = store
        .import_sources(&["log.jsonl".into()])
        .await
        .expect("source")[0];
    let batch: Vec<(i64, SessionMessage)> = messages().into_iter().map(|m| (source, m)).collect();
    let scope = Scope::new("project:payments").expect("scope");
    let stored_records = || async {
        records
            .list(&RecordQuery::new(scope.clone()))
            .await
            .expect("list")
            .len()
    };

    let failed = store
        .store_messages(MessageBatch::new(run, batch.clone()), |_, _| {
            Err(Error::validation("records", "refused"))
        })
        .await;
    assert!(failed.is_err());
    assert!(
        store
            .session_messages("payments", "s1")
            .await
            .expect("read")
            .is_empty(),
        "a failure while making the records leaves no message"
    );

    let make = |batch: &[(i64, SessionMessage)], fresh: &[bool]| {
        let new = batch
            .iter()
            .zip(fresh)
            .filter(|(_, new)| **new)
            .filter_map(|((_, m), _)| message_record(m).transpose())
            .collect::<memory_core::Result<Vec<_>>>()?;
        records.prepare(new)
    };
    let stored = store
        .store_messages(MessageBatch::new(run, batch.clone()), make)
        .await
        .expect("store");
    assert_eq!(stored.messages, batch, "the messages come back");
    assert_eq!(stored.fresh, [true, true]);
    assert_eq!(stored.records.len(), 2);
    assert_eq!(
        store
            .session_messages("payments", "s1")
            .await
            .expect("read")
            .len(),
        2
    );
    assert_eq!(stored_records().await, 2);

    let stored = store
        .store_messages(MessageBatch::new(run, batch), make)
        .await
        .expect("again");
    assert_eq!(stored.fresh, [false, false], "stored already");
    assert!(
        stored.records.is_empty(),
        "no record is made of a message stored before"
    );
    assert_eq!(stored_records().await, 2);
}
