//! Telling a client's message from what is not one, so that every line (stdio) or body (HTTP) is answered: a
//! message goes on to rmcp, anything else gets a JSON-RPC error at once. rmcp itself drops input that is not
//! JSON, which leaves a client waiting for ever.

use rmcp::model::{
    CallToolRequestParams, ClientJsonRpcMessage, ClientRequest, CompleteRequestParams,
    GetPromptRequestParams, InitializeRequestParams, JsonRpcMessage, ReadResourceRequestParams,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The largest message a client may send, as one line or one body (rmcp's own limit for a line).
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// What a line or a body holds.
#[derive(Debug)]
pub enum Incoming {
    /// A message for the server.
    Message(Box<ClientJsonRpcMessage>),
    /// Not a message: the JSON-RPC error that answers it, as one line of JSON (without the newline).
    Rejected(Vec<u8>),
}

/// JSON-RPC's codes for what is not a message.
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const INVALID_PARAMS: i64 = -32602;

/// Decodes one line or body (`bytes`, without its newline).
pub fn decode(bytes: &[u8]) -> Incoming {
    match serde_json::from_slice::<ClientJsonRpcMessage>(bytes) {
        Ok(message) => match misread_params(&message) {
            Some((id, detail)) => rejected(Some(id), INVALID_PARAMS, &detail),
            None => Incoming::Message(Box::new(message)),
        },
        Err(err) => {
            let (code, what) = match err.classify() {
                serde_json::error::Category::Data => (INVALID_REQUEST, "invalid request"),
                _ => (PARSE_ERROR, "parse error"),
            };
            rejected(request_id(bytes), code, &format!("{what}: {err}"))
        }
    }
}

/// The answer to a message longer than [`MAX_MESSAGE_BYTES`] of which `start` is the beginning.
pub fn too_long(start: &[u8], len: usize) -> Vec<u8> {
    let detail = format!("the message is {len} bytes; the limit is {MAX_MESSAGE_BYTES}");
    match rejected(request_id(start), INVALID_REQUEST, &detail) {
        Incoming::Rejected(answer) => answer,
        Incoming::Message(_) => unreachable!("rejected() only rejects"),
    }
}

/// A JSON-RPC error response, its members in the order of the specification.
#[derive(serde::Serialize)]
struct Answer<'a> {
    jsonrpc: &'static str,
    id: Value,
    error: Failure<'a>,
}

#[derive(serde::Serialize)]
struct Failure<'a> {
    code: i64,
    message: &'a str,
}

fn rejected(id: Option<Value>, code: i64, detail: &str) -> Incoming {
    let answer = Answer {
        jsonrpc: "2.0",
        id: id.unwrap_or(Value::Null),
        error: Failure {
            code,
            message: &memory_core::validate::clipped(detail, 300),
        },
    };
    Incoming::Rejected(serde_json::to_vec(&answer).expect("an answer serialises"))
}

/// rmcp reads a request of a standard method whose params it cannot decode as a custom request, which the
/// server then answers "method not found". Such a request gets `-32602` and what is wrong with its params.
fn misread_params(message: &ClientJsonRpcMessage) -> Option<(Value, String)> {
    let JsonRpcMessage::Request(request) = message else {
        return None;
    };
    let ClientRequest::CustomRequest(custom) = &request.request else {
        return None;
    };
    fn check<P: DeserializeOwned>(params: Option<&Value>) -> Option<String> {
        let params = params.cloned().unwrap_or_else(|| json!({}));
        serde_json::from_value::<P>(params)
            .err()
            .map(|e| e.to_string())
    }
    let params = custom.params.as_ref();
    let why = match custom.method.as_str() {
        "tools/call" => check::<CallToolRequestParams>(params),
        "resources/read" => check::<ReadResourceRequestParams>(params),
        "prompts/get" => check::<GetPromptRequestParams>(params),
        "initialize" => check::<InitializeRequestParams>(params),
        "completion/complete" => check::<CompleteRequestParams>(params),
        method if STANDARD.contains(&method) => Some("they do not have the method's shape".into()),
        _ => return None,
    }?;
    let id = serde_json::to_value(&request.id).ok()?;
    Some((id, format!("invalid params for `{}`: {why}", custom.method)))
}

/// The other request methods of the protocol, whose params are optional.
const STANDARD: &[&str] = &[
    "ping",
    "logging/setLevel",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/subscribe",
    "resources/unsubscribe",
    "tools/list",
];

/// The `id` member of the object `bytes` begins with, if it is a number or a string and can be found without
/// parsing the rest: input that is not JSON, or is nested too deeply for a parser, still names its request.
pub fn request_id(bytes: &[u8]) -> Option<Value> {
    let mut s = Scanner { bytes, at: 0 };
    s.expect(b'{')?;
    loop {
        s.skip_space();
        let key = s.string()?;
        s.skip_space();
        s.expect(b':')?;
        s.skip_space();
        if key == b"\"id\"" {
            let start = s.at;
            s.value()?;
            let id: Value = serde_json::from_slice(&bytes[start..s.at]).ok()?;
            return match id {
                Value::Number(ref n) if n.is_i64() => Some(id),
                Value::String(_) => Some(id),
                _ => None,
            };
        }
        s.value()?;
        s.skip_space();
        s.expect(b',')?;
    }
}

/// A forward-only reader of JSON tokens that skips values by counting brackets, so depth costs nothing.
struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn skip_space(&mut self) {
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_space();
        (self.bytes.get(self.at) == Some(&byte)).then(|| self.at += 1)
    }

    /// A string token, quotes included.
    fn string(&mut self) -> Option<&'a [u8]> {
        let start = self.at;
        (self.bytes.get(self.at) == Some(&b'"')).then_some(())?;
        self.at += 1;
        loop {
            match self.bytes.get(self.at)? {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    return Some(&self.bytes[start..self.at]);
                }
                _ => self.at += 1,
            }
        }
    }

    /// Skips one value: a string, an object or array (to where its brackets close), or a scalar.
    fn value(&mut self) -> Option<()> {
        match self.bytes.get(self.at)? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.bytes.get(self.at)? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.at += 1;
                }
            }
            _ => {
                while self
                    .bytes
                    .get(self.at)
                    .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
                {
                    self.at += 1;
                }
                Some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(line: &[u8]) -> Value {
        match decode(line) {
            Incoming::Rejected(bytes) => serde_json::from_slice(&bytes).expect("json"),
            Incoming::Message(m) => panic!("accepted {m:?}"),
        }
    }

    #[test]
    fn what_is_not_json_is_a_parse_error_naming_the_request_when_it_can() {
        let cases: [(&[u8], Value); 6] = [
            (
                br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{"limit":1e309}}}"#,
                json!(1),
            ),
            (
                br#"{"jsonrpc":"2.0","id":"a\"b","method":"x","params":{"s":"\ud800"}}"#,
                json!("a\"b"),
            ),
            (
                br#"{"jsonrpc":"2.0","id":4,"method":"ping"}{"jsonrpc":"2.0","id":5,"method":"ping"}"#,
                json!(4),
            ),
            (b"hello there", Value::Null),
            (br#"{"jsonrpc":"2.0","method":"ping","params":{"a":[1,{"b":"}"}]},"id":-7"#, json!(-7)),
            (br#"{"id":1.5,"method":"ping""#, Value::Null),
        ];
        for (line, id) in cases {
            let answer = answer(line);
            assert_eq!(answer["jsonrpc"], "2.0");
            assert_eq!(answer["id"], id, "{}", String::from_utf8_lossy(line));
            assert_eq!(answer["error"]["code"], PARSE_ERROR);
        }
        let deep = format!(
            r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert_eq!(answer(deep.as_bytes())["id"], 2);
    }

    #[test]
    fn json_that_is_not_a_message_is_an_invalid_request() {
        for line in [
            &br#"{"foo":1}"#[..],
            b"{}",
            b"[]",
            br#"{"jsonrpc":"2.0","id":8}"#,
        ] {
            let answer = answer(line);
            assert_eq!(answer["error"]["code"], INVALID_REQUEST);
            assert!(answer.as_object().expect("object").contains_key("id"));
        }
        assert_eq!(answer(br#"{"jsonrpc":"2.0","id":8}"#)["id"], 8);
    }

    #[test]
    fn a_standard_method_with_params_of_the_wrong_shape_is_invalid_params() {
        let line = br#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"list_episodes","arguments":[1,2]}}"#;
        let error = answer(line);
        assert_eq!(error["id"], 6);
        assert_eq!(error["error"]["code"], INVALID_PARAMS);
        let message = error["error"]["message"].as_str().expect("message");
        assert!(
            message.starts_with("invalid params for `tools/call`"),
            "{message}"
        );
        let line = br#"{"jsonrpc":"2.0","id":7,"method":"prompts/get","params":{"arguments":{}}}"#;
        let error = answer(line);
        assert_eq!(
            (&error["id"], &error["error"]["code"]),
            (&json!(7), &json!(INVALID_PARAMS))
        );
    }

    #[test]
    fn messages_pass() {
        for line in [
            &br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#[..],
            br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            br#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x","arguments":{}}}"#,
            br#"{"jsonrpc":"2.0","id":3,"method":"vendor/extension","params":{"a":[1]}}"#,
        ] {
            assert!(matches!(decode(line), Incoming::Message(_)));
        }
    }

    #[test]
    fn a_message_too_long_names_its_request_and_the_limit() {
        let answer: Value =
            serde_json::from_slice(&too_long(br#"{"id":"big","x":"aaa"#, 20 << 20)).expect("json");
        assert_eq!(answer["id"], "big");
        assert_eq!(answer["error"]["code"], INVALID_REQUEST);
        assert!(
            answer["error"]["message"]
                .as_str()
                .expect("message")
                .contains("16777216")
        );
    }
}
