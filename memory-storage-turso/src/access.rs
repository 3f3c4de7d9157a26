//! API keys, each confined to one tenant scope with its limits, and the audit log of the calls made with them
//! (migration 9).
//!
//! A key's secret is `mk_` and 64 hex digits (256 bits from the operating system's random source). It is
//! returned once, when the key is created; the store keeps only its SHA-256, so a copy of the database (a
//! backup, an export) gives no one a usable key. Keys are never deleted: a revoked key keeps its row, so the
//! audit entries that name it stay explained.

use std::{fmt, str::FromStr};

use libsql::{Row, Value};
use memory_core::{Error, Result, Scope, Timestamp};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::{
    TursoStore,
    db::Db,
    error::{MapErr as _, corrupt},
};

/// The longest key name, in characters.
pub const MAX_KEY_NAME_CHARS: usize = 100;
/// What every secret starts with, so a key is recognisable where it is pasted or leaked.
pub const SECRET_PREFIX: &str = "mk_";

/// How much a key's tenant may hold and write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct KeyLimits {
    /// Memory records the tenant may hold.
    pub max_records: u64,
    /// Successful writes the tenant may make in a day.
    pub max_daily_writes: u64,
}

impl Default for KeyLimits {
    /// 50,000 memory records and 1,000 writes a day.
    fn default() -> Self {
        KeyLimits {
            max_records: 50_000,
            max_daily_writes: 1_000,
        }
    }
}

impl KeyLimits {
    /// Checks that each limit is at least 1 (and fits the database's 64-bit signed integers).
    pub fn validate(&self) -> Result<()> {
        for (field, value) in [
            ("max_records", self.max_records),
            ("max_daily_writes", self.max_daily_writes),
        ] {
            if value == 0 || value > i64::MAX as u64 {
                return Err(Error::validation(
                    field,
                    format!("must be from 1 to {}, got {value}", i64::MAX),
                ));
            }
        }
        Ok(())
    }
}

/// A key to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewKey {
    /// The scope the key is confined to.
    pub tenant: Scope,
    /// What the operator calls it: 1 to [`MAX_KEY_NAME_CHARS`] characters, not blank, no control characters.
    pub name: String,
    /// Its limits.
    pub limits: KeyLimits,
}

impl NewKey {
    /// Checks the name and the limits ([`TursoStore::create_key`] does too, before writing anything).
    pub fn validate(&self) -> Result<()> {
        let chars = self.name.chars().count();
        if self.name.trim().is_empty() || chars > MAX_KEY_NAME_CHARS {
            return Err(Error::validation(
                "name",
                format!("must be 1 to {MAX_KEY_NAME_CHARS} characters and not blank, got {chars}"),
            ));
        }
        if let Some(c) = self.name.chars().find(|c| c.is_control()) {
            return Err(Error::validation(
                "name",
                format!(
                    "{} contains the control character {c:?}",
                    memory_core::validate::quoted(&self.name)
                ),
            ));
        }
        self.limits.validate()
    }
}

/// A stored key, without its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// Its number.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// The scope it is confined to.
    pub tenant: Scope,
    /// Its limits.
    pub limits: KeyLimits,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

/// How an audited call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// It succeeded.
    Ok,
    /// It failed.
    Error,
    /// It was refused before it ran (no key, a revoked key, another tenant, a limit).
    Denied,
}

impl AuditOutcome {
    /// Every outcome.
    pub const ALL: [AuditOutcome; 3] =
        [AuditOutcome::Ok, AuditOutcome::Error, AuditOutcome::Denied];

    /// Its stored name: `ok`, `error` or `denied`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Ok => "ok",
            AuditOutcome::Error => "error",
            AuditOutcome::Denied => "denied",
        }
    }
}

impl fmt::Display for AuditOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditOutcome {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        AuditOutcome::ALL
            .into_iter()
            .find(|o| o.as_str() == text)
            .ok_or_else(|| {
                Error::validation(
                    "outcome",
                    format!(
                        "{} is not ok, error or denied",
                        memory_core::validate::quoted(text)
                    ),
                )
            })
    }
}

/// One audited call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// When it was made.
    pub at: Timestamp,
    /// The key it was made with; `None` for the server's admin key or a request without a key.
    pub key_id: Option<i64>,
    /// The tenant it was confined to; `None` for a caller confined to none.
    pub tenant: Option<Scope>,
    /// The tool or method called (not empty).
    pub tool: String,
    /// The episode, memory or pattern it named, if it named one.
    pub target: Option<String>,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// Whether it writes.
    pub write: bool,
    /// Why it failed or was denied; empty when it succeeded.
    pub detail: String,
}

/// Which audit entries to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this tenant's.
    pub tenant: Option<Scope>,
    /// Only those made at or after this time.
    pub since: Option<Timestamp>,
    /// Only those that ended so.
    pub outcome: Option<AuditOutcome>,
    /// At most this many (at least 1), newest first.
    pub limit: u32,
}

impl Default for AuditQuery {
    /// The latest 100 entries.
    fn default() -> Self {
        AuditQuery {
            tenant: None,
            since: None,
            outcome: None,
            limit: 100,
        }
    }
}

/// The columns [`key_from_row`] reads, in its order (a literal, for `concat!`).
macro_rules! key_columns {
    () => {
        "id, name, tenant, max_records, max_daily_writes, created_at, revoked_at"
    };
}

/// The audit log, newest first, without and with a tenant: each uses its own index (`at`, `tenant, at`), whose
/// implicit rowid orders entries of the same time.
pub(crate) const AUDIT_ALL: &str = "SELECT at, key_id, tenant, tool, target, outcome, write, detail \
     FROM audit_log WHERE at >= ?1 AND (?2 IS NULL OR outcome = ?2) ORDER BY at DESC, id DESC LIMIT ?3";
pub(crate) const AUDIT_TENANT: &str = "SELECT at, key_id, tenant, tool, target, outcome, write, detail \
     FROM audit_log WHERE tenant = ?4 AND at >= ?1 AND (?2 IS NULL OR outcome = ?2) \
     ORDER BY at DESC, id DESC LIMIT ?3";
/// A tenant's successful writes from a time on, counted over the `tenant, at` index.
pub(crate) const WRITES_SINCE: &str = "SELECT count(*) FROM audit_log \
     WHERE tenant = ?1 AND at >= ?2 AND outcome = 'ok' AND write = 1";
/// The memory records of a scope, counted over an index that starts with the scope.
pub(crate) const RECORD_COUNT: &str = "SELECT count(*) FROM memory_records WHERE scope = ?1";

impl TursoStore {
    /// Creates a key for `new.tenant` and returns it with its secret, which is not stored and cannot be had
    /// again.
    pub async fn create_key(&self, new: &NewKey) -> Result<(KeyInfo, String)> {
        new.validate()?;
        let secret = new_secret()?;
        let created_at = Timestamp::now();
        let params = vec![
            Value::Text(new.name.clone()),
            Value::Text(new.tenant.as_str().into()),
            Value::Text(secret_hash(&secret)),
            Value::Integer(new.limits.max_records as i64),
            Value::Integer(new.limits.max_daily_writes as i64),
            Value::Integer(created_at.as_micros()),
        ];
        let id = self
            .write(|db| async move {
                db.query_first(
                    "INSERT INTO api_keys (name, tenant, key_hash, max_records, max_daily_writes, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                    params,
                    |row| row.get::<i64>(0).db(),
                )
                .await?
                .ok_or_else(|| corrupt("api_keys", "an inserted key returned no id"))
            })
            .await?;
        let key = KeyInfo {
            id,
            name: new.name.clone(),
            tenant: new.tenant.clone(),
            limits: new.limits,
            created_at,
            revoked_at: None,
        };
        Ok((key, secret))
    }

    /// Every key, revoked ones included, by id.
    pub async fn api_keys(&self) -> Result<Vec<KeyInfo>> {
        self.read(|db| async move {
            const SQL: &str = concat!("SELECT ", key_columns!(), " FROM api_keys ORDER BY id");
            db.query_map(SQL, (), key_from_row).await
        })
        .await
    }

    /// Revokes key `id` and returns it; a key already revoked keeps the time it was first revoked.
    pub async fn revoke_key(&self, id: i64) -> Result<KeyInfo> {
        let now = Timestamp::now().as_micros();
        self.write(|db| async move {
            db.query_first(
                concat!(
                    "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1 RETURNING ",
                    key_columns!()
                ),
                [id, now],
                key_from_row,
            )
            .await?
            .ok_or_else(|| Error::NotFound {
                kind: "API key",
                id: id.to_string(),
            })
        })
        .await
    }

    /// The key whose secret is `secret`, revoked or not (the caller tells a revoked key from an unknown one).
    pub async fn key_for_secret(&self, secret: &str) -> Result<Option<KeyInfo>> {
        let hash = secret_hash(secret);
        self.read(|db| async move {
            db.query_first(
                concat!(
                    "SELECT ",
                    key_columns!(),
                    " FROM api_keys WHERE key_hash = ?1"
                ),
                [hash],
                key_from_row,
            )
            .await
        })
        .await
    }

    /// Appends `entries` to the audit log, in one transaction: all of them or, on a failure, none.
    pub async fn append_audit(&self, entries: &[AuditEntry]) -> Result<()> {
        if let Some(i) = entries.iter().position(|e| e.tool.is_empty()) {
            return Err(Error::validation(
                format!("entries[{i}].tool"),
                "must name the tool or method called",
            ));
        }
        if entries.is_empty() {
            return Ok(());
        }
        let rows: Vec<Vec<Value>> = entries.iter().map(audit_params).collect();
        self.write(|db| async move {
            for row in rows {
                db.execute(
                    "INSERT INTO audit_log (at, key_id, tenant, tool, target, outcome, write, detail) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    row,
                )
                .await?;
            }
            Ok(())
        })
        .await
    }

    /// The audit entries `query` selects, newest first.
    pub async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        if query.limit == 0 {
            return Err(Error::validation("limit", "must be at least 1"));
        }
        let mut params = vec![
            Value::Integer(query.since.map_or(i64::MIN, Timestamp::as_micros)),
            query
                .outcome
                .map_or(Value::Null, |o| Value::Text(o.as_str().into())),
            Value::Integer(query.limit.into()),
        ];
        let sql = match &query.tenant {
            Some(tenant) => {
                params.push(Value::Text(tenant.as_str().into()));
                AUDIT_TENANT
            }
            None => AUDIT_ALL,
        };
        self.read(|db| async move { db.query_map(sql, params, audit_from_row).await })
            .await
    }

    /// How many successful writes `tenant` made at or after `since`.
    pub async fn writes_since(&self, tenant: &Scope, since: Timestamp) -> Result<u64> {
        let params = vec![
            Value::Text(tenant.as_str().into()),
            Value::Integer(since.as_micros()),
        ];
        self.read(|db| async move { count(&db, WRITES_SINCE, params).await })
            .await
    }

    /// How many memory records `scope` holds.
    pub async fn record_count(&self, scope: &Scope) -> Result<u64> {
        let params = vec![Value::Text(scope.as_str().into())];
        self.read(|db| async move { count(&db, RECORD_COUNT, params).await })
            .await
    }
}

async fn count(db: &Db, sql: &'static str, params: Vec<Value>) -> Result<u64> {
    let n = db
        .query_first(sql, params, |row| row.get::<i64>(0).db())
        .await?
        .unwrap_or(0);
    Ok(n.max(0) as u64)
}

/// `mk_` and 64 hex digits from the operating system's random source.
fn new_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Storage {
        backend: "getrandom",
        detail: format!("the operating system's random source failed: {e}"),
    })?;
    Ok(format!("{SECRET_PREFIX}{}", hex(&bytes)))
}

/// The stored form of a secret: its SHA-256, lowercase hex.
fn secret_hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn key_from_row(row: &Row) -> Result<KeyInfo> {
    let limit = |i: i32, what: &str| -> Result<u64> {
        let n: i64 = row.get(i).db()?;
        u64::try_from(n).map_err(|_| corrupt(what, n))
    };
    Ok(KeyInfo {
        id: row.get(0).db()?,
        name: row.get(1).db()?,
        tenant: Scope::new(row.get::<String>(2).db()?)
            .map_err(|e| corrupt("api_keys.tenant", e))?,
        limits: KeyLimits {
            max_records: limit(3, "api_keys.max_records")?,
            max_daily_writes: limit(4, "api_keys.max_daily_writes")?,
        },
        created_at: Timestamp::from_micros(row.get(5).db()?),
        revoked_at: row.get::<Option<i64>>(6).db()?.map(Timestamp::from_micros),
    })
}

fn audit_params(entry: &AuditEntry) -> Vec<Value> {
    vec![
        Value::Integer(entry.at.as_micros()),
        entry.key_id.map_or(Value::Null, Value::Integer),
        entry
            .tenant
            .as_ref()
            .map_or(Value::Null, |t| Value::Text(t.as_str().into())),
        Value::Text(entry.tool.clone()),
        entry.target.clone().map_or(Value::Null, Value::Text),
        Value::Text(entry.outcome.as_str().into()),
        Value::Integer(entry.write.into()),
        Value::Text(entry.detail.clone()),
    ]
}

fn audit_from_row(row: &Row) -> Result<AuditEntry> {
    let outcome: String = row.get(5).db()?;
    Ok(AuditEntry {
        at: Timestamp::from_micros(row.get(0).db()?),
        key_id: row.get(1).db()?,
        tenant: row
            .get::<Option<String>>(2)
            .db()?
            .map(Scope::new)
            .transpose()
            .map_err(|e| corrupt("audit_log.tenant", e))?,
        tool: row.get(3).db()?,
        target: row.get(4).db()?,
        outcome: outcome
            .parse()
            .map_err(|e| corrupt("audit_log.outcome", e))?,
        write: row.get::<i64>(6).db()? != 0,
        detail: row.get(7).db()?,
    })
}

#[cfg(test)]
mod tests;
