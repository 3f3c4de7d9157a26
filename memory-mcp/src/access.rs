//! Tenants of the HTTP server: resolving a request's key to its caller, the limits a tenant's calls are held to
//! (a rate per key and tool, the memories its scope may hold and its writes per UTC day), and the audit log of
//! every write and every refusal.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Instant,
};

use memory_core::{Scope, Timestamp};
use memory_storage_turso::{
    TursoStore,
    access::{AuditEntry, AuditOutcome, KeyInfo},
};
use serde_json::{Map, Value};

use crate::{
    audit::AuditLog,
    caller::{Caller, Tenant},
    http::ApiKey,
};

/// Microseconds in a day.
const DAY_MICROS: i64 = 86_400_000_000;

/// Why a request was refused, as its client is told.
#[derive(Debug)]
pub struct Refusal(pub String);

/// Why a request was not authenticated: its key (401), or the store holding the keys (503).
#[derive(Debug)]
pub enum NotAuthenticated {
    /// No key, a wrong key or a revoked one.
    Key(Refusal),
    /// The keys could not be read.
    Unavailable(Refusal),
}

/// What the server knows of its keys and what its tenants have spent.
pub struct Access {
    store: TursoStore,
    admin: Option<ApiKey>,
    audit: AuditLog,
    /// Token buckets per key and tool.
    rates: Mutex<HashMap<(i64, String), Bucket>>,
    /// Writes per tenant on the current UTC day: the day's number and the count.
    writes: Mutex<HashMap<Scope, (i64, u64)>>,
}

impl Access {
    /// Access control over the keys in `store`, with the operator's `admin` key if one is set.
    pub fn new(store: TursoStore, admin: Option<ApiKey>) -> Self {
        Access {
            audit: AuditLog::start(store.clone()),
            store,
            admin,
            rates: Mutex::default(),
            writes: Mutex::default(),
        }
    }

    /// Whether the operator has a key (`MEMORY_API_KEY`); without one, a loopback request without a key is the
    /// operator's while no tenant has a key.
    pub fn has_admin_key(&self) -> bool {
        self.admin.is_some()
    }

    /// The caller a request's bearer key names; `Err` is the 401 (or 503) it gets instead. A refusal is audited.
    pub async fn authenticate(&self, given: Option<&str>) -> Result<Caller, NotAuthenticated> {
        let refused = |message: String| {
            self.audit.record(entry(
                None,
                "authenticate",
                AuditOutcome::Denied,
                false,
                None,
                &message,
            ));
            Err(NotAuthenticated::Key(Refusal(message)))
        };
        let Some(given) = given else {
            if self.admin.is_some() {
                return refused(
                    "missing API key: send `Authorization: Bearer <key>` with the server's MEMORY_API_KEY or a \
                     tenant's key"
                        .into(),
                );
            }
            return match self.store.api_keys().await {
                Ok(keys) if keys.iter().all(|k| k.revoked_at.is_some()) => Ok(Caller::Operator),
                Ok(_) => refused(
                    "missing API key: this server's tenants authenticate; send `Authorization: Bearer <key>`"
                        .into(),
                ),
                Err(err) => unavailable(&err),
            };
        };
        if self.admin.as_ref().is_some_and(|key| key.matches(given)) {
            return Ok(Caller::Operator);
        }
        match self.store.key_for_secret(given).await {
            Ok(Some(key)) => match key.revoked_at {
                Some(at) => refused(format!("API key {} was revoked at {at}", key.id)),
                None => Ok(Caller::Tenant(Arc::new(tenant(key)))),
            },
            Ok(None) => refused("wrong API key".into()),
            Err(err) => unavailable(&err),
        }
    }

    /// Lets a call of `caller` to `tool` through, or says why not (and audits the refusal): a scope other than
    /// the tenant's, the key's rate for the tool, or for writes that add data the tenant's quotas.
    pub async fn admit(
        &self,
        caller: &Caller,
        tool: &str,
        arguments: Option<&Map<String, Value>>,
        adds: bool,
    ) -> Result<(), Refusal> {
        let Caller::Tenant(tenant) = caller else {
            return Ok(());
        };
        let refusal = self.check(tenant, tool, arguments, adds).await;
        if let Err(Refusal(message)) = &refusal {
            let target = target(arguments, None);
            self.audit.record(entry(
                Some(tenant),
                tool,
                AuditOutcome::Denied,
                adds,
                target,
                message,
            ));
        }
        refusal
    }

    async fn check(
        &self,
        tenant: &Tenant,
        tool: &str,
        arguments: Option<&Map<String, Value>>,
        adds: bool,
    ) -> Result<(), Refusal> {
        if let Some(named) = arguments
            .and_then(|a| a.get("scope"))
            .and_then(Value::as_str)
            && named.trim() != tenant.scope.as_str()
        {
            return Err(Refusal(format!(
                "denied: this key may use scope {} only, not {}",
                tenant.scope,
                named.trim()
            )));
        }
        let per_minute = per_minute(tool);
        let wait = {
            let mut rates = self.rates.lock().unwrap_or_else(|e| e.into_inner());
            let bucket = rates
                .entry((tenant.key_id, tool.to_string()))
                .or_insert_with(|| Bucket::full(per_minute));
            bucket.take(per_minute, Instant::now())
        };
        if let Err(seconds) = wait {
            return Err(Refusal(format!(
                "rate limit: {tool} takes {per_minute} calls a minute per key; retry in {seconds:.1} s"
            )));
        }
        if !adds {
            return Ok(());
        }
        let (today, written) = self.writes_today(&tenant.scope).await?;
        if written >= tenant.limits.max_daily_writes {
            let left = (today + 1) * DAY_MICROS - Timestamp::now().as_micros();
            let minutes = (left + 59_999_999) / 60_000_000;
            return Err(Refusal(format!(
                "quota: {} has made the {} writes a day its key allows; retry after midnight UTC, in {}h{:02}m",
                tenant.scope,
                tenant.limits.max_daily_writes,
                minutes / 60,
                minutes % 60
            )));
        }
        if tool == "store_memory" {
            let held = self
                .store
                .record_count(&tenant.scope)
                .await
                .map_err(store_failure)?;
            if held >= tenant.limits.max_records {
                return Err(Refusal(format!(
                    "quota: scope {} holds {held} memories, the most its key allows ({}); delete some, or ask the \
                     operator for a key with a larger --max-records",
                    tenant.scope, tenant.limits.max_records
                )));
            }
        }
        Ok(())
    }

    /// The current UTC day's number and the tenant's writes on it, read from the audit log on the first call of
    /// the day and counted in memory after.
    async fn writes_today(&self, scope: &Scope) -> Result<(i64, u64), Refusal> {
        let today = Timestamp::now().as_micros().div_euclid(DAY_MICROS);
        if let Some(&(day, count)) = self.lock_writes().get(scope)
            && day == today
        {
            return Ok((today, count));
        }
        let since = Timestamp::from_micros(today * DAY_MICROS);
        let count = self
            .store
            .writes_since(scope, since)
            .await
            .map_err(store_failure)?;
        let mut writes = self.lock_writes();
        let entry = writes.entry(scope.clone()).or_insert((today, count));
        if entry.0 != today {
            *entry = (today, count);
        }
        Ok((today, entry.1))
    }

    fn lock_writes(&self) -> std::sync::MutexGuard<'_, HashMap<Scope, (i64, u64)>> {
        self.writes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a finished call: every write is audited (with its target and, when it failed, why), and a
    /// tenant's successful write that added data counts against its day.
    pub fn finished(&self, call: Finished<'_>) {
        if !call.write {
            return;
        }
        let tenant = match call.caller {
            Caller::Tenant(tenant) => Some(&**tenant),
            Caller::Operator => None,
        };
        let outcome = match call.error {
            None => AuditOutcome::Ok,
            Some(_) => AuditOutcome::Error,
        };
        if let (Some(tenant), None, true) = (tenant, call.error, call.adds) {
            let today = Timestamp::now().as_micros().div_euclid(DAY_MICROS);
            let mut writes = self.lock_writes();
            let entry = writes.entry(tenant.scope.clone()).or_insert((today, 0));
            if entry.0 == today {
                entry.1 += 1;
            }
        }
        let target = target(call.arguments, call.result);
        let detail = call.error.unwrap_or("");
        self.audit
            .record(entry(tenant, call.tool, outcome, true, target, detail));
    }

    /// Writes what is queued for the audit log and stops taking entries.
    pub async fn close(&self) {
        self.audit.close().await;
    }
}

/// A call as [`Access::finished`] records it.
pub struct Finished<'a> {
    /// Who made it.
    pub caller: &'a Caller,
    /// The tool.
    pub tool: &'a str,
    /// Its arguments.
    pub arguments: Option<&'a Map<String, Value>>,
    /// Its structured result, if it succeeded with one.
    pub result: Option<&'a Value>,
    /// Why it failed, if it did.
    pub error: Option<&'a str>,
    /// Whether the tool writes.
    pub write: bool,
    /// Whether the tool adds data (a write that is not a delete).
    pub adds: bool,
}

fn tenant(key: KeyInfo) -> Tenant {
    Tenant {
        key_id: key.id,
        scope: key.tenant,
        limits: key.limits,
    }
}

fn entry(
    tenant: Option<&Tenant>,
    tool: &str,
    outcome: AuditOutcome,
    write: bool,
    target: Option<String>,
    detail: &str,
) -> AuditEntry {
    AuditEntry {
        at: Timestamp::now(),
        key_id: tenant.map(|t| t.key_id),
        tenant: tenant.map(|t| t.scope.clone()),
        tool: tool.to_string(),
        target,
        outcome,
        write,
        detail: detail.chars().take(500).collect(),
    }
}

/// What a call names or made: the episode, memory or patterns in its arguments, else the id in its result.
fn target(arguments: Option<&Map<String, Value>>, result: Option<&Value>) -> Option<String> {
    const IDS: [&str; 3] = ["episode_id", "memory_id", "pattern_ids"];
    let named = |value: &Value| match value {
        Value::String(id) => Some(id.clone()),
        Value::Array(ids) => Some(
            ids.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => None,
    };
    IDS.iter()
        .find_map(|field| arguments.and_then(|a| a.get(*field)).and_then(named))
        .or_else(|| {
            IDS.iter()
                .find_map(|field| result.and_then(|r| r.get(*field)).and_then(named))
        })
        .map(|id| id.chars().take(200).collect())
}

/// Calls a minute each key may make of `tool`: seed 000's limits for the tools it names (`store_memory` 100,
/// `search_memories` 300, `get_memory` 1000, `analyze_patterns` 10), and the same for their like.
pub fn per_minute(tool: &str) -> u32 {
    match tool {
        "get_memory" | "get_episode" | "health_check" => 1000,
        "search_memories" | "query_memory" | "list_episodes" | "get_statistics"
        | "search_patterns" | "recommend_patterns" | "add_episode_step" => 300,
        "analyze_patterns" => 10,
        "execute_code" => 60,
        _ => 100,
    }
}

/// A token bucket: up to a minute's calls at once, refilled evenly over the minute.
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(per_minute: u32) -> Self {
        Bucket {
            tokens: f64::from(per_minute),
            at: Instant::now(),
        }
    }

    /// Takes a call's token, or says in how many seconds one will be there.
    fn take(&mut self, per_minute: u32, now: Instant) -> Result<(), f64> {
        let rate = f64::from(per_minute) / 60.0;
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(f64::from(per_minute));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err((1.0 - self.tokens) / rate)
        }
    }
}

fn unavailable(err: &memory_core::Error) -> Result<Caller, NotAuthenticated> {
    tracing::warn!("authenticating a request: {err}");
    Err(NotAuthenticated::Unavailable(Refusal(
        "the database is unavailable right now; retry later".into(),
    )))
}

fn store_failure(err: memory_core::Error) -> Refusal {
    tracing::warn!("checking a tenant's quota: {err}");
    Refusal("the database is unavailable right now; retry later (the server's log says why)".into())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_bucket_allows_a_minutes_calls_then_one_per_interval() {
        let start = Instant::now();
        let mut bucket = Bucket {
            tokens: 10.0,
            at: start,
        };
        for _ in 0..10 {
            assert!(bucket.take(10, start).is_ok());
        }
        let wait = bucket.take(10, start).unwrap_err();
        assert!((wait - 6.0).abs() < 1e-9, "{wait}");
        assert!(bucket.take(10, start + Duration::from_secs(3)).is_err());
        assert!(bucket.take(10, start + Duration::from_secs(6)).is_ok());
    }

    #[test]
    fn the_target_is_what_the_call_names_or_made() {
        let args = serde_json::json!({"episode_id": "e1", "scope": "s"});
        let made = serde_json::json!({"memory_id": "m1"});
        assert_eq!(target(args.as_object(), Some(&made)).as_deref(), Some("e1"));
        assert_eq!(target(None, Some(&made)).as_deref(), Some("m1"));
        let ids = serde_json::json!({"pattern_ids": ["p1", "p2"]});
        assert_eq!(target(ids.as_object(), None).as_deref(), Some("p1,p2"));
        assert_eq!(target(None, None), None);
    }
}
