//! Keeping secrets out of the store: text captured from an agent's session (prompts, tool inputs and outputs)
//! passes through [`redact`] before it is written. Each secret is replaced by `[redacted: KIND]`; text inside
//! `<private>…</private>` is dropped whole; [`is_secret_file`] names the files (`.env` and the like) whose
//! contents are never kept at all.

use std::{borrow::Cow, sync::LazyLock};

use regex::{Captures, Regex};

/// A kind of secret and how it is found. Patterns with `keep` and `tail` groups keep those parts (an
/// assignment's name, a URL's user and its `@`) and replace what lies between.
struct Rule {
    kind: &'static str,
    pattern: Regex,
}

fn rule(kind: &'static str, pattern: &str) -> Rule {
    Rule {
        kind,
        pattern: Regex::new(pattern).expect("a valid built-in pattern"),
    }
}

/// The rules, most specific first: a provider's key inside an assignment is named by its provider.
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        rule(
            "private key",
            r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----(?s:.*?)(-----END[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|\z)",
        ),
        rule("anthropic key", r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
        rule(
            "openai key",
            r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
        ),
        rule(
            "stripe key",
            r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}",
        ),
        rule(
            "aws access key",
            r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b",
        ),
        rule(
            "github token",
            r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})",
        ),
        rule("gitlab token", r"\bglpat-[A-Za-z0-9_-]{20,}"),
        rule("slack token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
        rule("google api key", r"\bAIza[0-9A-Za-z_-]{35}"),
        rule("npm token", r"\bnpm_[A-Za-z0-9]{36}\b"),
        rule("huggingface token", r"\bhf_[A-Za-z0-9]{30,}\b"),
        rule(
            "jwt",
            r"\beyJ[A-Za-z0-9_-]{6,}\.eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}",
        ),
        rule(
            "url credentials",
            r"(?P<keep>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:)[^\s@/]+(?P<tail>@)",
        ),
        rule(
            "bearer token",
            r"(?i)(?P<keep>\b(?:bearer|token)\s+)[A-Za-z0-9._~+/-]{16,}=*",
        ),
        rule(
            "secret assignment",
            r#"(?i)(?P<keep>\b[A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?|auth)[A-Za-z0-9_.-]*["']?\s*[:=]\s*)(?:"[^"\n]*"|'[^'\n]*'|[^\s,;'"]+)"#,
        ),
    ]
});

static PRIVATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?si)<private>.*?(?:</private>|\z)").expect("valid"));

/// `text` with its secrets replaced and its `<private>` parts dropped; borrowed when there was nothing to hide.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out = PRIVATE.replace_all(text, "");
    for rule in RULES.iter() {
        if let Cow::Owned(replaced) = rule.pattern.replace_all(&out, |c: &Captures<'_>| {
            let keep = c.name("keep").map_or("", |m| m.as_str());
            let tail = c.name("tail").map_or("", |m| m.as_str());
            // A value that is already a marker (or a variable) is left as it is.
            let value = &c[0][keep.len()..];
            if value.starts_with("[redacted") || value.starts_with('$') {
                return c[0].to_string();
            }
            format!("{keep}[redacted: {}]{tail}", rule.kind)
        }) {
            out = Cow::Owned(replaced);
        }
    }
    out
}

/// Whether `path` names a file whose contents are secrets as a whole: `.env` files (`.env`, `.env.local`,
/// `prod.env`), key stores and credential files.
pub fn is_secret_file(path: &str) -> bool {
    let name = path
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(path)
        .to_ascii_lowercase();
    let example = ["example", "sample", "template", "dist"]
        .iter()
        .any(|s| name.ends_with(&format!(".{s}")));
    if example {
        return false;
    }
    name == ".env"
        || name.starts_with(".env.")
        || name.ends_with(".env")
        || name == ".netrc"
        || name == ".npmrc"
        || name == ".pypirc"
        || name == "credentials"
        || name.ends_with(".pem")
        || name.ends_with(".key")
        || name.ends_with(".p12")
        || name.ends_with(".pfx")
        || name.starts_with("id_rsa")
        || name.starts_with("id_ed25519")
        || name.starts_with("id_ecdsa")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Secrets shaped as each provider issues them (made up, never valid).
    const SECRETS: &[(&str, &str)] = &[
        (
            "anthropic key",
            "sk-ant-api03-Xq9vT2mLk8RfZ3wNc7HbJ5pYd1sAe6Gu4Ko0IiMnBvCxQrWtEyUo-AbCdEfAA",
        ),
        (
            "openai key",
            "sk-proj-4fGh7JkL9mNpQrStUvWxYz0123456789AbCdEfGhIjKlMnOp",
        ),
        ("stripe key", "sk_live_51HqLyJKtC8pVbQn7XwZr2MdFe9GhTu"),
        ("aws access key", "AKIAIOSFODNN7EXAMPLE"),
        ("github token", "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"),
        (
            "github token",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123",
        ),
        ("gitlab token", "glpat-x7Yz9AbCdEfGhIjKlMnO"),
        ("slack token", "xoxb-2048-1024-aBcDeFgHiJkLmNoPqRsTuV"),
        ("google api key", "AIzaSyD3fG5hJ7kL9mN1pQ3rS5tU7vW9xY1zA3b"),
        ("npm token", "npm_aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1eF3hJ5"),
        ("huggingface token", "hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ01234567"),
        (
            "jwt",
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        ),
    ];

    #[test]
    fn provider_keys_and_tokens_are_replaced_by_their_kind() {
        for (kind, secret) in SECRETS {
            let text = format!("export KEY_IN_USE {secret} # from the dashboard");
            let out = redact(&text);
            assert!(!out.contains(secret), "{kind} survived: {out}");
            assert!(
                out.contains(&format!("[redacted: {kind}]")),
                "{kind}: {out}"
            );
            assert!(out.ends_with("# from the dashboard"), "{out}");
        }
    }

    #[test]
    fn assignments_keep_their_name_and_lose_their_value() {
        let text = "DATABASE_PASSWORD=hunter2-Very-Secret\npassword: \"correct horse\"\nclient_secret='s3cr3t'\n\
                    {\"api_key\": \"live-123456\"}";
        let out = redact(text);
        for value in ["hunter2", "correct horse", "s3cr3t", "live-123456"] {
            assert!(!out.contains(value), "{value} survived: {out}");
        }
        assert!(
            out.contains("DATABASE_PASSWORD=[redacted: secret assignment]"),
            "{out}"
        );
        assert!(out.contains("client_secret=[redacted"), "{out}");
    }

    #[test]
    fn private_keys_credentials_in_urls_and_bearer_tokens_go() {
        let text = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n\
                    postgres://app:pa55w0rd@db.internal:5432/app\n\
                    curl -H 'Authorization: Bearer abcdefghijklmnop0123456789'";
        let out = redact(text);
        assert!(!out.contains("b3BlbnNzaC1rZXktdjEAAAAA"), "{out}");
        assert!(!out.contains("pa55w0rd"), "{out}");
        assert!(
            out.contains("postgres://app:[redacted: url credentials]@db.internal"),
            "{out}"
        );
        assert!(!out.contains("abcdefghijklmnop0123456789"), "{out}");
    }

    #[test]
    fn private_sections_are_dropped_and_plain_text_is_borrowed() {
        let out = redact("keep this <private>my home address</private> and this");
        assert_eq!(out, "keep this  and this");
        let plain = "cargo test payments::retry -- --test-threads=1 passed: 18 of 18";
        assert!(matches!(redact(plain), Cow::Borrowed(_)));
        // Code that names a secret without holding one keeps its meaning.
        assert_eq!(redact("let token = $TOKEN;"), "let token = $TOKEN;");
    }

    #[test]
    fn env_files_are_secret_and_their_examples_are_not() {
        for path in [
            ".env",
            "app/.env.local",
            "deploy/prod.env",
            "/home/u/.ssh/id_ed25519",
            "tls/server.key",
        ] {
            assert!(is_secret_file(path), "{path}");
        }
        for path in [
            ".env.example",
            "src/env.rs",
            "environment.md",
            ".env.sample",
        ] {
            assert!(!is_secret_file(path), "{path}");
        }
    }
}
