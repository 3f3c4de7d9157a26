//! Token-budgeted context: ranked items rendered as one delimited text block that never exceeds its budget.
//!
//! Tokens are counted with cl100k (the BPE of GPT-4-class models; its vocabulary is built into the binary, so
//! counting works offline and costs nothing to start). Other models' tokenizers differ by a few percent; cl100k
//! is the common yardstick.

use serde::Serialize;

use crate::{Error, Result};

/// Largest budget accepted, in tokens.
pub const MAX_BUDGET: usize = 1_000_000;

/// One ranked item to render: `<{tag} {attributes}>\n{body}\n</{tag}>`.
#[derive(Clone, Debug, PartialEq)]
pub struct ContextItem {
    /// The element name, e.g. `memory` or `episode`.
    pub tag: &'static str,
    /// The item's id, always the first attribute.
    pub id: String,
    /// Further attributes, e.g. `("kind", "decision")`.
    pub attributes: Vec<(&'static str, String)>,
    /// The text.
    pub body: String,
}

/// The assembled block and what went into it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Context {
    /// The block, at most `budget` tokens.
    pub text: String,
    /// Its size in cl100k tokens.
    pub tokens: usize,
    /// The budget it was built for.
    pub budget: usize,
    /// Ids of the items in the block, in rank order.
    pub included: Vec<String>,
    /// Ids of the items that did not fit, in rank order.
    pub omitted: Vec<String>,
}

/// The number of cl100k tokens in `text`.
pub fn count_tokens(text: &str) -> usize {
    crate::tokens::count(text)
}

fn escape(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace(['\n', '\r'], " ")
}

fn render(item: &ContextItem) -> String {
    let mut head = format!("<{} id=\"{}\"", item.tag, escape(&item.id));
    for (name, value) in &item.attributes {
        head.push_str(&format!(" {name}=\"{}\"", escape(value)));
    }
    // A body cannot close its own element early.
    let close = format!("</{}>", item.tag);
    let body = item
        .body
        .trim_end()
        .replace(&close, &format!("<\\/{}>", item.tag));
    format!("{head}>\n{body}\n{close}\n")
}

fn note(omitted: usize, budget: usize) -> String {
    format!("<!-- {omitted} more result(s) did not fit the budget of {budget} tokens -->\n")
}

/// Renders `items` in rank order into a block of at most `budget` tokens: whole items while they fit, then a
/// note of how many did not. Items are never cut; one that does not fit is left out and later, smaller ones
/// may still go in.
pub fn assemble(items: &[ContextItem], budget: usize) -> Result<Context> {
    if budget == 0 || budget > MAX_BUDGET {
        return Err(Error::validation(
            "budget",
            format!("must be 1 to {MAX_BUDGET} tokens, got {budget}"),
        ));
    }
    let rendered: Vec<(String, usize)> = items
        .iter()
        .map(|item| {
            let text = render(item);
            let tokens = count_tokens(&text);
            (text, tokens)
        })
        .collect();
    let mut chosen: Vec<usize> = Vec::new();
    let mut estimate = 0;
    for (i, (_, tokens)) in rendered.iter().enumerate() {
        if estimate + tokens <= budget {
            chosen.push(i);
            estimate += tokens;
        }
    }
    // Token counts are not exactly additive across item boundaries, so the whole block is counted, and items
    // are dropped from the end until the block (with its note) fits.
    loop {
        let omitted = items.len() - chosen.len();
        let mut text: String = chosen.iter().map(|&i| rendered[i].0.as_str()).collect();
        if omitted > 0 {
            text.push_str(&note(omitted, budget));
        }
        let tokens = count_tokens(&text);
        if tokens <= budget {
            let included = chosen.iter().map(|&i| items[i].id.clone()).collect();
            let omitted = (0..items.len())
                .filter(|i| !chosen.contains(i))
                .map(|i| items[i].id.clone())
                .collect();
            return Ok(Context {
                text,
                tokens,
                budget,
                included,
                omitted,
            });
        }
        if chosen.pop().is_none() {
            // Not even the note fits: an empty block, with the omitted ids still reported.
            return Ok(Context {
                text: String::new(),
                tokens: 0,
                budget,
                included: Vec::new(),
                omitted: items.iter().map(|i| i.id.clone()).collect(),
            });
        }
    }
}

#[cfg(test)]
mod tests;
