//! Unit tests of the record framing.

use memory_core::{Episode, EpisodeId, RECORD_VERSION};
use test_utils::Workload;

use super::{HEADER_LEN, decode, encode, open, set_revision};

#[test]
fn records_round_trip() {
    let w = Workload::new(1);
    for (index, episode) in [w.new_episode(0), w.completed_episode(1, 7)]
        .into_iter()
        .enumerate()
    {
        let revision = 40 + index as u64;
        let bytes = encode(revision, &episode).expect("encode");
        assert_eq!(bytes[0], RECORD_VERSION);
        assert_eq!(decode(&bytes, episode.id.0), Ok((revision, episode)));
    }
}

#[test]
fn every_flipped_bit_of_a_record_is_detected() {
    let episode = Workload::new(2).completed_episode(0, 2);
    let bytes = encode(9, &episode).expect("encode");
    for at in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x10;
        assert!(
            decode::<Episode>(&damaged, episode.id.0).is_err(),
            "flip at byte {at} went unnoticed"
        );
    }
}

#[test]
fn malformed_records_are_rejected() {
    let episode = Workload::new(3).new_episode(0);
    let bytes = encode(1, &episode).expect("encode");
    assert!(open(&bytes[..HEADER_LEN - 1]).is_err(), "short record");
    assert!(
        decode::<Episode>(&bytes[..bytes.len() - 1], episode.id.0).is_err(),
        "truncated payload"
    );
    let mut trailing = bytes.clone();
    trailing.push(0);
    set_revision(&mut trailing, 1);
    assert!(
        decode::<Episode>(&trailing, episode.id.0).is_err(),
        "trailing bytes"
    );
    assert!(
        decode::<Episode>(&bytes, EpisodeId::new().0).is_err(),
        "record under another id"
    );
}

mod properties {
    //! Round trips of generated episodes and memories, and decoding of any bytes (`PROPTEST_CASES` cases).

    use memory_core::{Json, MemoryRecord, RecordId, Scope, StepResult, Timestamp};
    use proptest::prelude::*;
    use test_utils::arbitrary;

    use super::*;

    /// A workload episode with generated text in its free-text fields and generated JSON in its parameters.
    fn episode() -> impl Strategy<Value = Episode> {
        (
            any::<u64>(),
            0u32..6,
            arbitrary::text(),
            arbitrary::text(),
            arbitrary::json(),
            any::<i64>(),
        )
            .prop_map(|(seed, steps, task, output, parameters, micros)| {
                let mut e = Workload::new(seed).completed_episode(seed % 100, steps.max(1));
                e.task_description = task;
                e.start_time = Timestamp::from_micros(micros);
                if let Some(step) = e.steps.first_mut() {
                    step.parameters = Json::new(&parameters);
                    step.result = StepResult::Error { message: output };
                }
                e
            })
    }

    fn memory() -> impl Strategy<Value = MemoryRecord> {
        (
            any::<u128>(),
            arbitrary::text(),
            proptest::option::of(arbitrary::text()),
            proptest::collection::vec(arbitrary::text(), 0..4),
            arbitrary::json(),
            any::<f64>(),
        )
            .prop_map(
                |(id, content, summary, tags, metadata, importance)| MemoryRecord {
                    id: RecordId(uuid::Uuid::from_u128(id)),
                    scope: Scope::new("project:payments").expect("scope"),
                    kind: memory_core::RecordKind::Note,
                    content_hash: memory_core::content_hash(&content),
                    content,
                    summary,
                    context: None,
                    tags,
                    metadata: Json::new(&metadata),
                    importance,
                    source: None,
                    created_at: Timestamp::from_micros(1),
                    updated_at: Timestamp::from_micros(2),
                },
            )
    }

    proptest! {
        #[test]
        fn episodes_round_trip(episode in episode(), revision in any::<u64>()) {
            let bytes = encode(revision, &episode).expect("encode");
            prop_assert_eq!(decode(&bytes, episode.id.0), Ok((revision, episode)));
        }

        #[test]
        fn memories_round_trip(record in memory(), revision in any::<u64>()) {
            let bytes = encode(revision, &record).expect("encode");
            let (got, back): (u64, MemoryRecord) = decode(&bytes, record.id.0).expect("decode");
            prop_assert_eq!(got, revision);
            // NaN importance compares unequal to itself: compare the encodings.
            prop_assert_eq!(encode(revision, &back).expect("encode"), bytes);
        }

        #[test]
        fn any_bytes_decode_to_an_error_or_a_value_never_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), id in any::<u128>()) {
            let _ = decode::<Episode>(&bytes, uuid::Uuid::from_u128(id));
            let _ = decode::<MemoryRecord>(&bytes, uuid::Uuid::from_u128(id));
        }

        #[test]
        fn a_damaged_payload_is_refused(episode in episode(), at in any::<prop::sample::Index>(), flip in 1u8..) {
            let mut bytes = encode(3, &episode).expect("encode");
            let at = HEADER_LEN + at.index(bytes.len() - HEADER_LEN);
            bytes[at] ^= flip;
            prop_assert!(decode::<Episode>(&bytes, episode.id.0).is_err());
        }
    }
}
