//! MCP resources: each episode and each memory as a JSON document a client can read by URI.
//!
//! `memory://episodes/{episode_id}` names an episode. A memory belongs to a scope and is found only in it, so
//! its URI carries the scope as a query parameter: `memory://memories/{memory_id}?scope=project:payments`
//! (scope names use only characters a URI query allows as they are); without one, the server's scope.

use memory_core::{EpisodeQuery, RecordQuery, Scope};
use rmcp::{
    ErrorData,
    model::{
        ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult, Resource,
        ResourceContents, ResourceTemplate,
    },
};
use serde::Serialize;

use crate::{
    caller::Caller,
    error::ToolError,
    server::MemoryServer,
    wire::{EpisodeOut, MemoryOut},
};

const EPISODES: &str = "memory://episodes/";
const MEMORIES: &str = "memory://memories/";
const JSON: &str = "application/json";
/// How many of the newest episodes and memories `resources/list` names.
const LISTED: u32 = 50;

/// The templates: one per kind of resource.
pub fn templates() -> ListResourceTemplatesResult {
    ListResourceTemplatesResult::with_all_items(vec![
        ResourceTemplate::new(format!("{EPISODES}{{episode_id}}"), "episode")
            .with_title("An episode")
            .with_description(
                "A recorded episode as JSON: task, context, steps, outcome, reward and reflection.",
            )
            .with_mime_type(JSON),
        ResourceTemplate::new(format!("{MEMORIES}{{memory_id}}{{?scope}}"), "memory")
            .with_title("A memory")
            .with_description(
                "A stored memory as JSON. `scope` names its scope (default: the server's scope).",
            )
            .with_mime_type(JSON),
    ])
}

/// The URI of a memory of `scope`.
pub fn memory_uri(id: impl std::fmt::Display, scope: &Scope) -> String {
    format!("{MEMORIES}{id}?scope={scope}")
}

/// The newest episodes and the newest memories of the server's scope (a tenant's: its own).
pub async fn list(
    server: &MemoryServer,
    caller: &Caller,
) -> Result<ListResourcesResult, ErrorData> {
    let episodes = EpisodeQuery {
        limit: LISTED,
        scope: caller.confined_to().cloned(),
        ..EpisodeQuery::default()
    };
    let episodes = server
        .memory()
        .list_episodes(&episodes)
        .await
        .map_err(|e| protocol_error("resources/list", e))?;
    let scope = caller.confined_to().unwrap_or(server.default_scope());
    let records = RecordQuery {
        limit: LISTED,
        ..RecordQuery::new(scope.clone())
    };
    let records = server
        .records()
        .list(&records)
        .await
        .map_err(|e| protocol_error("resources/list", e))?;
    let mut listed: Vec<Resource> = episodes
        .iter()
        .map(|e| {
            Resource::new(format!("{EPISODES}{}", e.id), format!("episode {}", e.id))
                .with_title(title(&e.task_description))
                .with_mime_type(JSON)
        })
        .collect();
    listed.extend(records.iter().map(|r| {
        Resource::new(memory_uri(r.id, scope), format!("memory {}", r.id))
            .with_title(title(r.summary.as_deref().unwrap_or(&r.content)))
            .with_mime_type(JSON)
    }));
    Ok(ListResourcesResult::with_all_items(listed))
}

/// The first line of `text`, cut to 80 characters.
fn title(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    let cut: String = line.chars().take(80).collect();
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// Reads the resource `uri` names.
pub async fn read(
    server: &MemoryServer,
    caller: &Caller,
    uri: &str,
) -> Result<ReadResourceResult, ErrorData> {
    const METHOD: &str = "resources/read";
    if let Some(id) = uri.strip_prefix(EPISODES) {
        let id = id.parse().map_err(|e| protocol_error(METHOD, e))?;
        let episode = server
            .memory()
            .get_episode(id)
            .await
            .map_err(|e| protocol_error(METHOD, e))?;
        if !caller.sees(episode.scope.as_ref()) {
            return Err(protocol_error(
                METHOD,
                memory_core::Error::episode_not_found(id),
            ));
        }
        return document(uri, &EpisodeOut::from(&episode));
    }
    if let Some(rest) = uri.strip_prefix(MEMORIES) {
        let (id, query) = rest.split_once('?').unwrap_or((rest, ""));
        let scope = match query {
            "" => caller
                .scope(None, server.default_scope())
                .map_err(|e| protocol_error(METHOD, e))?,
            _ => match query.strip_prefix("scope=") {
                Some(name) if !name.contains('&') && caller.may_name(name) => {
                    Scope::new(name).map_err(|e| protocol_error(METHOD, e))?
                }
                Some(name) if !name.contains('&') => {
                    return Err(protocol_error(
                        METHOD,
                        memory_core::Error::NotFound {
                            kind: "memory",
                            id: format!("{id} in scope {name}"),
                        },
                    ));
                }
                _ => {
                    return Err(ErrorData::invalid_params(
                        format!(
                            "invalid resource URI {}: the only query parameter is `scope`",
                            memory_core::validate::quoted(uri)
                        ),
                        None,
                    ));
                }
            },
        };
        let id = id.parse().map_err(|e| protocol_error(METHOD, e))?;
        let record = server
            .records()
            .get(&scope, id)
            .await
            .map_err(|e| protocol_error(METHOD, e))?;
        return document(uri, &MemoryOut::from(&record));
    }
    Err(ErrorData::invalid_params(
        format!(
            "unknown resource URI {}: expected {EPISODES}{{episode_id}} or \
             {MEMORIES}{{memory_id}}?scope={{scope}}",
            memory_core::validate::quoted(uri)
        ),
        None,
    ))
}

fn document(uri: &str, value: &impl Serialize) -> Result<ReadResourceResult, ErrorData> {
    let text = serde_json::to_string_pretty(value).map_err(|e| {
        ErrorData::internal_error(ToolError::internal("resources/read", &e).0, None)
    })?;
    Ok(ReadResourceResult::new(vec![
        ResourceContents::text(text, uri).with_mime_type(JSON),
    ]))
}

/// A failure of a resource request as a JSON-RPC error: not found, invalid, or internal (logged).
fn protocol_error(method: &str, err: memory_core::Error) -> ErrorData {
    match err {
        memory_core::Error::NotFound { .. } => ErrorData::resource_not_found(err.to_string(), None),
        err if err.is_user_error() => ErrorData::invalid_params(err.to_string(), None),
        err => ErrorData::internal_error(ToolError::from_core(method, err).0, None),
    }
}
