"""Drives memory-mcp over stdio with the official MCP Python SDK.

Usage: client.py BINARY DATABASE. Exits 0 when every check passed; an AssertionError (or any other exception)
fails it. The SDK checks each successful tool result against the tool's output schema as it arrives; every
schema is also checked against the JSON Schema 2020-12 meta-schema, with no format outside its vocabulary.
"""

import asyncio
import json
import os
import sys

from jsonschema import Draft202012Validator
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError

TOOLS = {
    "add_episode_step", "analyze_patterns", "complete_episode", "create_episode", "delete_episode",
    "delete_memory", "execute_code", "get_episode", "get_memory", "get_statistics", "health_check", "list_episodes",
    "query_memory", "record_pattern_feedback", "recommend_patterns", "search_memories", "search_patterns",
    "store_memory",
}

STANDARD_FORMATS = {
    "date-time", "date", "time", "duration", "email", "idn-email", "hostname", "idn-hostname", "ipv4", "ipv6",
    "uri", "uri-reference", "iri", "iri-reference", "uuid", "uri-template", "json-pointer",
    "relative-json-pointer", "regex",
}


def formats(schema):
    """Every `format` value in a schema, however deep."""
    if isinstance(schema, dict):
        if isinstance(schema.get("format"), str):
            yield schema["format"]
        for value in schema.values():
            yield from formats(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from formats(value)


def check_schema(tool, schema):
    Draft202012Validator.check_schema(schema)
    unknown = set(formats(schema)) - STANDARD_FORMATS
    assert not unknown, f"{tool}: formats outside JSON Schema: {sorted(unknown)}"


async def ok(session, tool, arguments):
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, f"{tool} failed: {result.content}"
    assert result.structured_content is not None, f"{tool} returned no structured content"
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


async def fails(session, tool, arguments, needle):
    result = await session.call_tool(tool, arguments)
    assert result.is_error, f"{tool} succeeded: {result.structured_content}"
    message = result.content[0].text
    assert needle in message, f"{message!r} does not contain {needle!r}"


async def main(binary, database):
    env = {key: value for key, value in os.environ.items() if not key.startswith("MEMORY_")}
    env["MEMORY_EMBEDDER"] = "lexical"
    params = StdioServerParameters(command=binary, args=["--db", database], env=env)
    with open(os.devnull, "w") as quiet:
        async with stdio_client(params, errlog=quiet) as (read, write):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                assert init.server_info.name == "memory-mcp", init.server_info
                tools = await session.list_tools()
                assert {tool.name for tool in tools.tools} == TOOLS, [tool.name for tool in tools.tools]
                assert all(tool.output_schema for tool in tools.tools)
                for tool in tools.tools:
                    check_schema(tool.name, tool.input_schema)
                    check_schema(tool.name, tool.output_schema)

                created = await ok(session, "create_episode", {
                    "task_description": "Add retries to the webhook sender", "domain": "notifications",
                    "task_type": "code_generation", "language": "python", "tags": ["webhooks"],
                })
                episode = created["episode_id"]
                step = await ok(session, "add_episode_step", {
                    "episode_id": episode, "tool": "pytest", "action": "tests/test_webhooks.py",
                    "status": "error", "output": "ConnectionError not retried",
                })
                assert step["step_number"] == 1
                await ok(session, "add_episode_step", {
                    "episode_id": episode, "tool": "edit", "action": "sender.py", "parameters": {"lines": 12},
                })
                done = await ok(session, "complete_episode", {
                    "episode_id": episode, "outcome": "partial_success", "verdict": "retries work",
                    "completed": ["retry loop"], "failed": ["jitter"],
                })
                assert done["status"] == "completed" and done["outcome"]["kind"] == "partial_success"
                assert done["reward"]["total"] > 0
                got = await ok(session, "get_episode", {"episode_id": episode})
                assert len(got["steps"]) == 2 and got["steps"][1]["parameters"] == {"lines": 12}
                listed = await ok(session, "list_episodes", {"domain": "notifications"})
                assert [e["episode_id"] for e in listed["episodes"]] == [episode]

                stored = await ok(session, "store_memory", {
                    "content": "Webhook retries use exponential backoff capped at 30 seconds.",
                    "kind": "decision", "scope": "project:notifications", "tags": ["webhooks"],
                })
                again = await ok(session, "store_memory", {
                    "content": "Webhook retries use exponential backoff capped at 30 seconds.",
                    "scope": "project:notifications",
                })
                assert again["duplicate"] and again["memory_id"] == stored["memory_id"]
                memory = await ok(session, "get_memory", {
                    "memory_id": stored["memory_id"], "scope": "project:notifications",
                })
                assert memory["kind"] == "decision"
                found = await ok(session, "search_memories", {
                    "query": "webhook backoff", "scope": "project:notifications",
                })
                assert found["results"][0]["memory"]["memory_id"] == stored["memory_id"]
                answer = await ok(session, "query_memory", {
                    "query": "webhook retries", "scope": "project:notifications", "budget_tokens": 400,
                })
                # Patterns learnt from the episode in the background may be found too.
                kinds = {hit["type"] for hit in answer["results"]}
                assert {"episode", "memory"} <= kinds <= {"episode", "memory", "pattern"}, kinds
                assert 0 < answer["context"]["tokens"] <= 400
                stats = await ok(session, "get_statistics", {"scope": "project:notifications"})
                assert stats["total"] == 1
                health = await ok(session, "health_check", {})
                assert health["status"] == "ok"

                await fails(session, "get_episode", {"episode_id": "x"}, "invalid episode id")
                await fails(session, "list_episodes", {"limit": "many"}, "invalid argument `limit`")
                await fails(session, "complete_episode", {"episode_id": episode, "outcome": "failure", "reason": "r"},
                            "is already completed")
                try:
                    await session.call_tool("drop_tables", {})
                    raise AssertionError("an unknown tool was accepted")
                except MCPError as error:
                    assert error.code == -32602, error.code

                templates = await session.list_resource_templates()
                assert len(templates.resource_templates) == 2
                resource = await session.read_resource(f"memory://episodes/{episode}")
                assert json.loads(resource.contents[0].text)["episode_id"] == episode
                prompt = await session.get_prompt("use_episodic_memory", {"task": "add retries"})
                assert "query_memory" in prompt.messages[0].content.text

                deleted = await ok(session, "delete_memory", {
                    "memory_id": stored["memory_id"], "scope": "project:notifications",
                })
                assert deleted["deleted"]
                await ok(session, "delete_episode", {"episode_id": episode})
    print("ok")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
