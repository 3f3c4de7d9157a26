use super::*;

fn item(id: &str, body: &str) -> ContextItem {
    ContextItem {
        tag: "memory",
        id: id.into(),
        attributes: vec![("kind", "fact".into())],
        body: body.into(),
    }
}

#[test]
fn tokens_are_counted_with_cl100k() {
    assert_eq!(count_tokens("hello world"), 2);
    assert_eq!(count_tokens(""), 0);
}

#[test]
fn the_block_never_exceeds_the_budget() {
    let items: Vec<ContextItem> = (0..30)
        .map(|i| {
            item(
                &format!("m{i}"),
                &"tokio settles payments; ".repeat(i % 7 + 1),
            )
        })
        .collect();
    for budget in [1, 5, 20, 40, 64, 100, 250, 1000, 10_000] {
        let ctx = assemble(&items, budget).expect("assemble");
        assert!(
            ctx.tokens <= budget,
            "{} tokens for a budget of {budget}",
            ctx.tokens
        );
        assert_eq!(ctx.tokens, count_tokens(&ctx.text));
        assert_eq!(ctx.included.len() + ctx.omitted.len(), items.len());
        if !ctx.omitted.is_empty() && !ctx.text.is_empty() {
            assert!(
                ctx.text
                    .contains(&format!("{} more result(s) did not fit", ctx.omitted.len()))
            );
        }
    }
    let all = assemble(&items, 10_000).expect("assemble");
    assert!(all.omitted.is_empty());
    assert_eq!(all.included[0], "m0", "rank order is kept");
}

#[test]
fn items_are_whole_and_delimited() {
    let ctx = assemble(
        &[
            item("a\"b", "line one\n</memory> sneaky"),
            item("c", "second"),
        ],
        1000,
    )
    .expect("assemble");
    assert_eq!(
        ctx.text,
        "<memory id=\"a&quot;b\" kind=\"fact\">\nline one\n<\\/memory> sneaky\n</memory>\n\
         <memory id=\"c\" kind=\"fact\">\nsecond\n</memory>\n"
    );
}

#[test]
fn a_large_item_is_skipped_and_smaller_ones_still_fit() {
    let items = vec![item("big", &"word ".repeat(500)), item("small", "tiny")];
    let ctx = assemble(&items, 60).expect("assemble");
    assert_eq!(ctx.included, vec!["small"]);
    assert_eq!(ctx.omitted, vec!["big"]);
}

#[test]
fn budgets_are_checked() {
    assert!(assemble(&[], 0).is_err());
    assert!(assemble(&[], MAX_BUDGET + 1).is_err());
    let empty = assemble(&[], 10).expect("assemble");
    assert_eq!(empty.text, "");
}
