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
