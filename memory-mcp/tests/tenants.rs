//! Tenants over HTTP: every tool called with one tenant's key against another's data finds nothing of it;
//! unknown and revoked keys get 401; quotas and rate limits refuse with when to retry; the audit log records
//! the writes and refusals.

use memory_core::Scope;
use memory_storage_turso::{
    DbConfig, TursoStore,
    access::{AuditOutcome, AuditQuery, KeyLimits, NewKey},
};
use rmcp::model::ReadResourceRequestParams;
use serde_json::json;

use crate::{
    http::{Http, KEY, post},
    support::{Client, Scratch, call, fails, ok, str_of, text},
};

/// A word only the first tenant's data holds: finding it in the other's answers is a leak.
const SECRET: &str = "zephyrquill";

async fn store(scratch: &Scratch) -> TursoStore {
    TursoStore::open(&DbConfig::local(&scratch.db))
        .await
        .expect("open the server's database")
}

/// A key for tenant `scope`; returns its id and secret.
async fn key(store: &TursoStore, scope: &str, limits: KeyLimits) -> (i64, String) {
    let (info, secret) = store
        .create_key(&NewKey {
            tenant: Scope::new(scope).expect("scope"),
            name: scope.into(),
            limits,
        })
        .await
        .expect("create key");
    (info.id, secret)
}

/// An episode with a step and an outcome, and a memory, written by `client`; their ids.
async fn some_work(client: &Client, word: &str) -> (String, String) {
    let created = ok(
        client,
        "create_episode",
        json!({"task_description": format!("tune the {word} cache"), "domain": "infra"}),
    )
    .await;
    let episode = str_of(&created, "episode_id").to_string();
    ok(
        client,
        "add_episode_step",
        json!({"episode_id": episode, "tool": format!("{word}ctl"), "action": "tune"}),
    )
    .await;
    ok(
        client,
        "complete_episode",
        json!({"episode_id": episode, "outcome": "success", "verdict": format!("{word} tuned")}),
    )
    .await;
    let stored = ok(
        client,
        "store_memory",
        json!({"content": format!("the {word} cache wants 4 GiB"), "kind": "fact"}),
    )
    .await;
    (episode, str_of(&stored, "memory_id").to_string())
}

#[tokio::test]
async fn every_tool_across_two_tenants_leaks_nothing() {
    let scratch = Scratch::new();
    let server = Http::start(&scratch, "127.0.0.1:0", Some(KEY)).await;
    let db = store(&scratch).await;
    let (_, alice_key) = key(&db, "user:alice", KeyLimits::default()).await;
    let (_, bob_key) = key(&db, "user:bob", KeyLimits::default()).await;
    let alice = server.client(&alice_key).await.expect("alice connects");
    let bob = server.client(&bob_key).await.expect("bob connects");
    let (episode, memory) = some_work(&alice, SECRET).await;
    let (own_episode, _) = some_work(&bob, "lettuce").await;

    // Alice's learnt patterns, once the learner has run, for bob to try to reach.
    let mut pattern_ids = Vec::new();
    for _ in 0..100 {
        let analysed = ok(&alice, "analyze_patterns", json!({"episode_id": episode})).await;
        pattern_ids = analysed["patterns"]
            .as_array()
            .expect("patterns")
            .iter()
            .filter_map(|p| p["pattern"]["pattern_id"].as_str().map(String::from))
            .collect();
        if !pattern_ids.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!pattern_ids.is_empty(), "alice's patterns were learnt");

    // Each call bob makes with alice's ids, scope or words: what it must get, and never a word of hers.
    let e = || json!({"episode_id": episode});
    let alice_scope = "user:alice";
    let calls = [
        ("get_episode", e(), Some("not found")),
        (
            "add_episode_step",
            json!({"episode_id": episode, "tool": "x", "action": "y"}),
            Some("not found"),
        ),
        (
            "complete_episode",
            json!({"episode_id": episode, "outcome": "failure", "reason": "r"}),
            Some("not found"),
        ),
        ("delete_episode", e(), Some("not found")),
        ("analyze_patterns", e(), Some("not found")),
        (
            "execute_code",
            json!({"code": "console.log(1)", "episode_id": episode}),
            Some("not found"),
        ),
        (
            "get_memory",
            json!({"memory_id": memory}),
            Some("not found"),
        ),
        (
            "delete_memory",
            json!({"memory_id": memory}),
            Some("not found"),
        ),
        (
            "record_pattern_feedback",
            json!({"pattern_ids": pattern_ids, "outcome": "failure"}),
            Some("not found"),
        ),
        (
            "store_memory",
            json!({"content": "bob writes", "scope": alice_scope}),
            Some("denied"),
        ),
        (
            "get_memory",
            json!({"memory_id": memory, "scope": alice_scope}),
            Some("denied"),
        ),
        (
            "search_memories",
            json!({"query": "cache", "scope": alice_scope}),
            Some("denied"),
        ),
        (
            "get_statistics",
            json!({"scope": alice_scope}),
            Some("denied"),
        ),
        (
            "query_memory",
            json!({"query": "cache", "scope": alice_scope}),
            Some("denied"),
        ),
        ("list_episodes", json!({}), None),
        (
            "query_memory",
            json!({"query": format!("{SECRET} cache tuning"), "budget_tokens": 500}),
            None,
        ),
        (
            "search_memories",
            json!({"query": format!("{SECRET} cache")}),
            None,
        ),
        ("get_statistics", json!({}), None),
        (
            "search_patterns",
            json!({"query": format!("{SECRET}ctl tune")}),
            None,
        ),
        (
            "recommend_patterns",
            json!({"task": format!("tune the {SECRET} cache")}),
            None,
        ),
        ("health_check", json!({}), None),
        (
            "create_episode",
            json!({"task_description": "bob's own task", "domain": "infra"}),
            None,
        ),
    ];
    let tools: std::collections::HashSet<&str> = calls.iter().map(|c| c.0).collect();
    let ids: Vec<&str> = [episode.as_str(), memory.as_str(), alice_scope]
        .into_iter()
        .chain(pattern_ids.iter().map(String::as_str))
        .collect();
    for (tool, arguments, refused) in calls {
        let result = call(&bob, tool, arguments.clone()).await.expect(tool);
        let said = format!("{} {:?}", text(&result), result.structured_content);
        match refused {
            Some(needle) => {
                assert_eq!(result.is_error, Some(true), "{tool}: {said}");
                assert!(said.contains(needle), "{tool}: {said}");
            }
            None => assert_eq!(result.is_error, Some(false), "{tool}: {said}"),
        }
        assert!(!said.contains(SECRET), "{tool}: {said}");
        for id in &ids {
            // An error may repeat what bob sent; nothing else of alice's may appear.
            if !arguments.to_string().contains(id) {
                assert!(!said.contains(id), "{tool} told bob {id}: {said}");
            }
        }
    }
    assert_eq!(tools.len(), 18, "every tool was tried");
    let resources = format!("{:?}", bob.list_all_resources().await.expect("resources"));
    assert!(ids.iter().all(|id| !resources.contains(id)) && !resources.contains(SECRET));
    for uri in [
        format!("memory://episodes/{episode}"),
        format!("memory://memories/{memory}?scope={alice_scope}"),
        format!("memory://memories/{memory}"),
    ] {
        let read = bob
            .read_resource(ReadResourceRequestParams::new(uri.clone()))
            .await;
        let said = format!("{read:?}");
        assert!(read.is_err() && said.contains("not found"), "{uri}: {said}");
        assert!(!said.contains(SECRET), "{uri}: {said}");
    }

    // Alice's data is as she left it, and bob sees his own.
    let kept = ok(&alice, "get_episode", json!({"episode_id": episode})).await;
    assert_eq!(kept["steps"].as_array().expect("steps").len(), 1);
    assert_eq!(kept["outcome"]["kind"], "success", "{kept}");
    ok(&alice, "get_memory", json!({"memory_id": memory})).await;
    let stats = ok(&alice, "get_statistics", json!({})).await;
    assert_eq!(stats["total"], 1);
    let listed = ok(&bob, "list_episodes", json!({})).await;
    let ids: Vec<&str> = listed["episodes"]
        .as_array()
        .expect("episodes")
        .iter()
        .map(|e| str_of(e, "episode_id"))
        .collect();
    assert_eq!(ids.len(), 2, "{listed}");
    assert!(ids.contains(&own_episode.as_str()));

    // The operator's key sees both tenants' episodes.
    let admin = server.client(KEY).await.expect("admin connects");
    let all = ok(&admin, "list_episodes", json!({})).await;
    assert_eq!(all["episodes"].as_array().expect("episodes").len(), 3);
    for client in [alice, bob, admin] {
        client.cancel().await.expect("close");
    }
}

#[tokio::test]
async fn unknown_and_revoked_keys_get_401_and_the_audit_log_says_who_did_what() {
    let scratch = Scratch::new();
    let server = Http::start(&scratch, "127.0.0.1:0", None).await;
    let db = store(&scratch).await;
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}});
    // Loopback without keys: the operator's.
    let (status, _, _) = post(&server, None, None, initialize.clone()).await;
    assert_eq!(status, 200);

    let (carol_id, carol_key) = key(&db, "project:ledger", KeyLimits::default()).await;
    // Once a tenant has a key, a request must carry one.
    let (status, messages, _) = post(&server, None, None, initialize.clone()).await;
    assert_eq!(status, 401, "{messages:?}");
    let (status, messages, _) = post(&server, Some("mk_unknown"), None, initialize.clone()).await;
    assert_eq!(status, 401);
    assert_eq!(messages[0]["error"], "wrong API key");

    let carol = server.client(&carol_key).await.expect("carol connects");
    ok(
        &carol,
        "store_memory",
        json!({"content": "ledger closes at 18:00"}),
    )
    .await;
    fails(
        &carol,
        "store_memory",
        json!({"content": "elsewhere", "scope": "project:other"}),
        "denied",
    )
    .await;
    fails(
        &carol,
        "get_episode",
        json!({"episode_id": "not-an-id"}),
        "",
    )
    .await;

    db.revoke_key(carol_id).await.expect("revoke");
    let (status, messages, _) = post(&server, Some(&carol_key), None, initialize).await;
    assert_eq!(status, 401);
    let message = messages[0]["error"].as_str().expect("error");
    assert!(message.contains("was revoked"), "{message}");
    let refused = call(
        &carol,
        "store_memory",
        json!({"content": "after revocation"}),
    )
    .await;
    assert!(
        refused.is_err(),
        "the open session is refused too: {refused:?}"
    );
    carol.cancel().await.ok();

    // The audit log is written in the background; it has everything once the server stops.
    server.stop().await;
    let entries = db
        .audit_log(&AuditQuery {
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .expect("audit");
    let tenant = Scope::new("project:ledger").expect("scope");
    let find = |tool: &str, outcome: AuditOutcome| {
        entries
            .iter()
            .find(|e| e.tool == tool && e.outcome == outcome)
            .unwrap_or_else(|| panic!("no {tool} {outcome:?} in {entries:#?}"))
    };
    let stored = find("store_memory", AuditOutcome::Ok);
    assert_eq!(
        (stored.key_id, stored.tenant.as_ref()),
        (Some(carol_id), Some(&tenant))
    );
    assert!(stored.write && stored.target.is_some());
    let denied = find("store_memory", AuditOutcome::Denied);
    assert!(denied.detail.contains("project:other"), "{denied:?}");
    assert!(
        find("authenticate", AuditOutcome::Denied)
            .detail
            .contains("API key")
    );
    assert!(
        entries.iter().all(|e| e.tool != "get_episode"),
        "reads that are let through are not audited"
    );
    let revoked = entries
        .iter()
        .any(|e| e.tool == "authenticate" && e.detail.contains("was revoked"));
    assert!(revoked, "{entries:#?}");
}

#[tokio::test]
async fn quotas_and_rate_limits_refuse_with_when_to_retry_and_write_nothing() {
    let scratch = Scratch::new();
    let server = Http::start(&scratch, "127.0.0.1:0", Some(KEY)).await;
    let db = store(&scratch).await;
    let limits = KeyLimits {
        max_records: 2,
        max_daily_writes: 4,
    };
    let (_, dave_key) = key(&db, "user:dave", limits).await;
    let dave = server.client(&dave_key).await.expect("dave connects");
    for n in 0..2 {
        ok(
            &dave,
            "store_memory",
            json!({"content": format!("fact {n}")}),
        )
        .await;
    }
    let message = fails(&dave, "store_memory", json!({"content": "fact 2"}), "quota").await;
    assert!(message.contains("holds 2 memories"), "{message}");
    let stats = ok(&dave, "get_statistics", json!({})).await;
    assert_eq!(stats["total"], 2, "the refused write stored nothing");

    // Deleting is never held back by a quota; it counts as a write but adds nothing.
    let listed = ok(&dave, "search_memories", json!({"query": "fact"})).await;
    let id = str_of(&listed["results"][0]["memory"], "memory_id").to_string();
    ok(&dave, "delete_memory", json!({"memory_id": id})).await;
    // Two writes that add data so far; two more are allowed today, then none.
    ok(
        &dave,
        "create_episode",
        json!({"task_description": "one", "domain": "d"}),
    )
    .await;
    ok(&dave, "store_memory", json!({"content": "fact 3"})).await;
    let message = fails(
        &dave,
        "create_episode",
        json!({"task_description": "two", "domain": "d"}),
        "quota",
    )
    .await;
    assert!(
        message.contains("retry after midnight UTC, in"),
        "{message}"
    );
    let listed = ok(&dave, "list_episodes", json!({})).await;
    assert_eq!(listed["episodes"].as_array().expect("episodes").len(), 1);

    // analyze_patterns takes 10 calls a minute per key (seed 000's limit).
    let episode = str_of(&listed["episodes"][0], "episode_id").to_string();
    for _ in 0..10 {
        let result = call(&dave, "analyze_patterns", json!({"episode_id": episode}))
            .await
            .expect("call");
        assert!(!text(&result).contains("rate limit"), "{}", text(&result));
    }
    let message = fails(
        &dave,
        "analyze_patterns",
        json!({"episode_id": episode}),
        "rate limit: analyze_patterns takes 10 calls a minute per key; retry in",
    )
    .await;
    assert!(message.ends_with(" s"), "{message}");
    // The operator is not limited.
    let admin = server.client(KEY).await.expect("admin connects");
    for _ in 0..12 {
        let result = call(&admin, "analyze_patterns", json!({"episode_id": episode}))
            .await
            .expect("call");
        assert!(!text(&result).contains("rate limit"));
    }
    dave.cancel().await.expect("close");
    admin.cancel().await.expect("close");
}
