//! Memory records: free-form memories (facts, preferences, decisions, notes) kept beside episodes.

use std::{collections::BTreeMap, fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{Error, Json, Result, Timestamp, episode::parse_by_name, validate};

/// Identifies a memory record. UUID v7, so ids sort by creation time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RecordId(pub Uuid);

impl RecordId {
    /// A fresh, time-ordered id.
    pub fn new() -> Self {
        RecordId(Uuid::now_v7())
    }
}

impl Default for RecordId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for RecordId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Uuid::parse_str(s.trim())
            .map(RecordId)
            .map_err(|_| Error::InvalidId {
                kind: "memory",
                input: s.to_string(),
            })
    }
}

/// What a memory is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// Something true about the code, the system or the world.
    Fact,
    /// How someone likes things done.
    Preference,
    /// A choice that was made, and why.
    Decision,
    /// Part of a conversation.
    Conversation,
    /// Anything else worth keeping.
    Note,
}

impl RecordKind {
    /// Every kind, in declaration order.
    pub const ALL: [RecordKind; 5] = [
        RecordKind::Fact,
        RecordKind::Preference,
        RecordKind::Decision,
        RecordKind::Conversation,
        RecordKind::Note,
    ];

    /// The snake_case name used in JSON, SQL and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Fact => "fact",
            RecordKind::Preference => "preference",
            RecordKind::Decision => "decision",
            RecordKind::Conversation => "conversation",
            RecordKind::Note => "note",
        }
    }
}

parse_by_name!(RecordKind, "kind");

/// A namespace such as `user:alice` or `project:payments`. Every read and write names one; nothing crosses scopes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Scope(String);

impl Scope {
    /// Checks and wraps a scope name: 1 to 100 characters of letters, digits and `-_.:/@`.
    pub fn new(name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        let chars = name.chars().count();
        if chars == 0 || chars > 100 {
            return Err(Error::validation(
                "scope",
                format!("must be 1 to 100 characters, got {chars}"),
            ));
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "-_.:/@".contains(*c)))
        {
            return Err(Error::validation(
                "scope",
                format!(
                    "{} contains {c:?}; scopes allow letters, digits and - _ . : / @",
                    crate::validate::quoted(&name)
                ),
            ));
        }
        Ok(Scope(name))
    }

    /// The scope's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored memory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemoryRecord {
    /// Its id.
    pub id: RecordId,
    /// The namespace it belongs to.
    pub scope: Scope,
    /// What it is.
    pub kind: RecordKind,
    /// The memory itself (at most 1 MiB).
    pub content: String,
    /// A short summary.
    pub summary: Option<String>,
    /// Where it applies or came up (free text).
    pub context: Option<String>,
    /// Free tags, like an episode's.
    pub tags: Vec<String>,
    /// Free JSON metadata (an object).
    pub metadata: Json,
    /// How much it matters, from 0 to 1.
    pub importance: f64,
    /// Where it came from (a file, a session, a person).
    pub source: Option<String>,
    /// SHA-256 of the content, lowercase hex: storing the same content again in the same scope is a duplicate.
    pub content_hash: String,
    /// When it was stored.
    pub created_at: Timestamp,
    /// When it was last updated.
    pub updated_at: Timestamp,
}

impl MemoryRecord {
    /// The text its embedding is made from: the content, then the summary if there is one.
    pub fn embedding_text(&self) -> String {
        match &self.summary {
            Some(summary) => format!("{}\n{summary}", self.content),
            None => self.content.clone(),
        }
    }

    /// The key its vector is stored under: the SHA-256 of its embedding text, so records with the same text share
    /// one vector per model.
    pub fn embedding_key(&self) -> String {
        match &self.summary {
            // The embedding text is the content, whose hash is already known.
            None => self.content_hash.clone(),
            Some(_) => content_hash(&self.embedding_text()),
        }
    }
}

/// A memory to store, as given to [`Records::store`](crate::Records::store).
#[derive(Clone, Debug, PartialEq)]
pub struct NewRecord {
    /// The namespace.
    pub scope: Scope,
    /// What it is.
    pub kind: RecordKind,
    /// The memory itself.
    pub content: String,
    /// A short summary.
    pub summary: Option<String>,
    /// Where it applies.
    pub context: Option<String>,
    /// Free tags.
    pub tags: Vec<String>,
    /// Free JSON metadata (an object).
    pub metadata: Json,
    /// From 0 to 1.
    pub importance: f64,
    /// Where it came from.
    pub source: Option<String>,
    /// When it happened, for memories imported from elsewhere (conversation logs, sessions); `None` for now.
    pub created_at: Option<Timestamp>,
}

impl NewRecord {
    /// A note-like memory with no tags, empty metadata and importance 0.5.
    pub fn new(scope: Scope, kind: RecordKind, content: impl Into<String>) -> Self {
        NewRecord {
            scope,
            kind,
            content: content.into(),
            summary: None,
            context: None,
            tags: Vec::new(),
            metadata: Json::empty_object(),
            importance: 0.5,
            source: None,
            created_at: None,
        }
    }

    /// Checks every field, then builds the record it would store (with a fresh id and its content hash).
    pub fn into_record(self) -> Result<MemoryRecord> {
        validate::record_content(&self.content)?;
        for (field, text) in [
            ("summary", &self.summary),
            ("context", &self.context),
            ("source", &self.source),
        ] {
            validate::record_text(field, text.as_deref().unwrap_or(""))?;
        }
        validate::tags(&self.tags)?;
        validate::metadata(&self.metadata)?;
        validate::importance(self.importance)?;
        let now = Timestamp::now();
        let created_at = self.created_at.unwrap_or(now);
        Ok(MemoryRecord {
            id: RecordId::new(),
            content_hash: content_hash(&self.content),
            scope: self.scope,
            kind: self.kind,
            content: self.content,
            summary: self.summary,
            context: self.context,
            tags: self.tags,
            metadata: self.metadata,
            importance: self.importance,
            source: self.source,
            created_at,
            updated_at: created_at,
        })
    }
}

/// SHA-256 of `content`, lowercase hex.
pub fn content_hash(content: &str) -> String {
    Sha256::digest(content.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What storing a record did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored {
    /// The record's id: the new one, or the existing record's when the content was a duplicate.
    pub id: RecordId,
    /// True when the same content was already stored in the scope (nothing was written).
    pub duplicate: bool,
}

/// Changes to a record: each `Some` field replaces the stored value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordUpdate {
    /// New tags.
    pub tags: Option<Vec<String>>,
    /// New importance.
    pub importance: Option<f64>,
    /// New metadata.
    pub metadata: Option<Json>,
}

impl RecordUpdate {
    /// Checks the fields that are set, and that at least one is.
    pub fn validate(&self) -> Result<()> {
        if self.tags.is_none() && self.importance.is_none() && self.metadata.is_none() {
            return Err(Error::validation(
                "update",
                "names nothing to change (tags, importance or metadata)",
            ));
        }
        if let Some(tags) = &self.tags {
            validate::tags(tags)?;
        }
        if let Some(importance) = self.importance {
            validate::importance(importance)?;
        }
        if let Some(metadata) = &self.metadata {
            validate::metadata(metadata)?;
        }
        Ok(())
    }
}

/// Counts and sizes of the records of one scope, or of every scope.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordStats {
    /// The scope, or `None` for every scope.
    pub scope: Option<String>,
    /// How many records.
    pub total: u64,
    /// Records per kind.
    pub by_kind: BTreeMap<String, u64>,
    /// Records per tag.
    pub by_tag: BTreeMap<String, u64>,
    /// Records per scope.
    pub by_scope: BTreeMap<String, u64>,
    /// Bytes of content stored.
    pub content_bytes: u64,
    /// When the oldest was stored.
    pub oldest: Option<Timestamp>,
    /// When the newest was stored.
    pub newest: Option<Timestamp>,
}
