//! The persisted record of an episode or a memory: a version byte, the revision, a checksum (of both and the
//! payload) and the postcard payload.

use memory_core::{
    Episode, Error, MemoryRecord, RECORD_VERSION, Result, Revision, fnv1a64, fnv1a64_extend,
};
use serde::{Serialize, de::DeserializeOwned};
use uuid::Uuid;

/// A value stored under its own id.
pub(crate) trait Keyed: Serialize + DeserializeOwned {
    /// What it is, for messages.
    const WHAT: &'static str;
    /// Its id's bytes.
    fn key(&self) -> Uuid;
}

impl Keyed for Episode {
    const WHAT: &'static str = "episode";
    fn key(&self) -> Uuid {
        self.id.0
    }
}

impl Keyed for MemoryRecord {
    const WHAT: &'static str = "memory";
    fn key(&self) -> Uuid {
        self.id.0
    }
}

/// Bytes before the payload: version (1), revision (8), checksum (8).
const HEADER_LEN: usize = 17;

/// The checksum of a record (FNV-1a over the version and revision bytes, then the payload): not
/// cryptographic, it catches accidental damage (flipped bits, torn or foreign bytes) that redb does not check on
/// a plain read.
fn checksum(record: &[u8]) -> u64 {
    fnv1a64_extend(fnv1a64(&record[..9]), &record[HEADER_LEN..])
}

/// Encodes `value` as a record written at `revision`.
pub(crate) fn encode<T: Keyed>(revision: Revision, value: &T) -> Result<Vec<u8>> {
    let mut buf =
        postcard::to_extend(value, vec![0u8; HEADER_LEN]).map_err(|e| Error::Storage {
            backend: "redb",
            detail: format!("could not encode {} {}: {e}", T::WHAT, value.key()),
        })?;
    buf[0] = RECORD_VERSION;
    set_revision(&mut buf, revision);
    Ok(buf)
}

/// Overwrites the revision of a record made by [`encode`] (for writes that learn their revision only inside the
/// transaction but encode before it).
pub(crate) fn set_revision(record: &mut [u8], revision: Revision) {
    if record.len() < HEADER_LEN {
        return;
    }
    record[1..9].copy_from_slice(&revision.to_le_bytes());
    let sum = checksum(record);
    record[9..HEADER_LEN].copy_from_slice(&sum.to_le_bytes());
}

/// Checks the framing and the checksum; returns the revision and the payload. The error says what failed.
pub(crate) fn open(bytes: &[u8]) -> Result<(Revision, &[u8]), String> {
    let Some((header, payload)) = bytes.split_at_checked(HEADER_LEN) else {
        return Err(format!(
            "record is {} bytes, shorter than its header",
            bytes.len()
        ));
    };
    if header[0] != RECORD_VERSION {
        return Err(format!(
            "record version {} is not {RECORD_VERSION}",
            header[0]
        ));
    }
    let revision = u64_at(header, 1);
    let stored = u64_at(header, 9);
    let computed = checksum(bytes);
    if stored != computed {
        return Err(format!(
            "checksum mismatch (stored {stored:#018x}, computed {computed:#018x})"
        ));
    }
    Ok((revision, payload))
}

/// Decodes a whole record stored under `id`; the error says what failed.
pub(crate) fn decode<T: Keyed>(bytes: &[u8], id: Uuid) -> Result<(Revision, T), String> {
    let (revision, payload) = open(bytes)?;
    let (value, rest): (T, _) =
        postcard::take_from_bytes(payload).map_err(|e| format!("payload does not decode: {e}"))?;
    if !rest.is_empty() {
        return Err(format!("{} bytes follow the payload", rest.len()));
    }
    if value.key() != id {
        return Err(format!("record holds {} {}", T::WHAT, value.key()));
    }
    Ok((revision, value))
}

/// Reads a little-endian u64 at `at`; the caller guarantees `at + 8 <= bytes.len()`.
fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests;
