//! Resources (episodes and memories by URI) and the prompt.

use rmcp::{
    ServiceError,
    model::{ErrorCode, GetPromptRequestParams, ReadResourceRequestParams, ResourceContents},
};
use serde_json::{Value, json};

use crate::support::{Client, Scratch, ok, str_of};

async fn read(client: &Client, uri: &str) -> Result<Value, ServiceError> {
    let result = client
        .read_resource(ReadResourceRequestParams::new(uri))
        .await?;
    assert_eq!(result.contents.len(), 1);
    let ResourceContents::TextResourceContents {
        uri: read_uri,
        mime_type,
        text,
        ..
    } = &result.contents[0]
    else {
        panic!("expected text contents");
    };
    assert_eq!(read_uri, uri);
    assert_eq!(mime_type.as_deref(), Some("application/json"));
    Ok(serde_json::from_str(text).expect("JSON"))
}

fn code(result: Result<Value, ServiceError>) -> (ErrorCode, String) {
    match result {
        Err(ServiceError::McpError(error)) => (error.code, error.message.to_string()),
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

#[tokio::test]
async fn episodes_and_memories_are_resources() {
    let scratch = Scratch::new();
    let client = scratch.connect().await;
    let templates = client
        .list_all_resource_templates()
        .await
        .expect("templates");
    let uris: Vec<&str> = templates.iter().map(|t| t.uri_template.as_str()).collect();
    assert_eq!(
        uris,
        [
            "memory://episodes/{episode_id}",
            "memory://memories/{memory_id}{?scope}"
        ]
    );

    let created = ok(
        &client,
        "create_episode",
        json!({"task_description": "Upgrade tokio", "domain": "infra"}),
    )
    .await;
    let episode = str_of(&created, "episode_id").to_string();
    let stored = ok(
        &client,
        "store_memory",
        json!({"content": "We pin tokio to 1.47.", "scope": "project:infra"}),
    )
    .await;
    let memory = str_of(&stored, "memory_id").to_string();
    let default = ok(
        &client,
        "store_memory",
        json!({"content": "Default-scope note."}),
    )
    .await;
    let default = str_of(&default, "memory_id").to_string();

    let listed = client.list_all_resources().await.expect("resources/list");
    let listed: Vec<(String, String)> = listed
        .iter()
        .map(|r| (r.uri.clone(), r.title.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        listed,
        [
            (
                format!("memory://episodes/{episode}"),
                "Upgrade tokio".to_string()
            ),
            (
                format!("memory://memories/{default}?scope=default"),
                "Default-scope note.".to_string()
            ),
        ],
        "the newest episodes and the server scope's newest memories"
    );

    let read_episode = read(&client, &format!("memory://episodes/{episode}"))
        .await
        .expect("episode");
    let got = ok(&client, "get_episode", json!({"episode_id": episode})).await;
    assert_eq!(read_episode, got);
    let read_memory = read(
        &client,
        &format!("memory://memories/{memory}?scope=project:infra"),
    )
    .await
    .expect("memory");
    assert_eq!(read_memory["content"], "We pin tokio to 1.47.");
    let read_default = read(&client, &format!("memory://memories/{default}"))
        .await
        .expect("default scope");
    assert_eq!(read_default["scope"], "default");

    let (code_of, message) = code(read(&client, &format!("memory://memories/{memory}")).await);
    assert_eq!(code_of, ErrorCode::RESOURCE_NOT_FOUND, "{message}");
    assert!(message.contains("in scope default not found"), "{message}");
    let (code_of, message) = code(
        read(
            &client,
            "memory://episodes/0190f5c2-8a3b-7c4d-9e5f-0123456789ab",
        )
        .await,
    );
    assert_eq!(code_of, ErrorCode::RESOURCE_NOT_FOUND, "{message}");
    let (code_of, message) = code(read(&client, "memory://episodes/not-an-id").await);
    assert_eq!(code_of, ErrorCode::INVALID_PARAMS);
    assert!(message.contains("invalid episode id"), "{message}");
    let (code_of, message) =
        code(read(&client, &format!("memory://memories/{memory}?scope=a&x=1")).await);
    assert_eq!(code_of, ErrorCode::INVALID_PARAMS);
    assert!(
        message.contains("the only query parameter is `scope`"),
        "{message}"
    );
    let (code_of, message) = code(read(&client, "file:///etc/passwd").await);
    assert_eq!(code_of, ErrorCode::INVALID_PARAMS);
    assert!(message.contains("unknown resource URI"), "{message}");
}

#[tokio::test]
async fn the_prompt_teaches_the_workflow() {
    let scratch = Scratch::new();
    let client = scratch.connect().await;
    let prompts = client.list_all_prompts().await.expect("prompts/list");
    assert_eq!(prompts.len(), 1);
    let prompt = &prompts[0];
    assert_eq!(prompt.name, "use_episodic_memory");
    let arguments: Vec<&str> = prompt
        .arguments
        .iter()
        .flatten()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(arguments, ["domain", "task"]);

    let mut arguments = serde_json::Map::new();
    arguments.insert("task".into(), json!("Fix the flaky settlement test"));
    arguments.insert("domain".into(), json!("payments-service"));
    let got = client
        .get_prompt(GetPromptRequestParams::new("use_episodic_memory").with_arguments(arguments))
        .await
        .expect("prompts/get");
    assert_eq!(got.messages.len(), 1);
    let text = &got.messages[0].content.as_text().expect("text").text;
    for step in [
        "query_memory",
        "create_episode",
        "add_episode_step",
        "complete_episode",
        "store_memory",
    ] {
        assert!(
            text.contains(step),
            "the prompt does not mention {step}: {text}"
        );
    }
    assert!(
        text.contains("The task: Fix the flaky settlement test"),
        "{text}"
    );
    assert!(
        text.contains(r#""context": {"domain": "payments-service"}"#),
        "{text}"
    );
}
