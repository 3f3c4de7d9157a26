//! Pieces of SQL the queries share.

use libsql::Value;
use memory_core::Tags;

/// The condition that `column` names a row carrying `tags` (any of them, or all), where `tagged` selects
/// `(id)` from the table of `(id, tag)` pairs; binds the tags after `params`.
pub(crate) fn tagged(column: &str, tagged: &str, tags: &Tags, params: &mut Vec<Value>) -> String {
    let mut names = Vec::with_capacity(tags.tags.len());
    for tag in &tags.tags {
        params.push(Value::Text(tag.clone()));
        names.push(format!("?{}", params.len()));
    }
    let within = format!("{tagged} WHERE tag IN ({})", names.join(", "));
    if tags.all {
        params.push(Value::Integer(tags.tags.len() as i64));
        format!(
            "{column} IN ({within} GROUP BY 1 HAVING count(DISTINCT tag) = ?{})",
            params.len()
        )
    } else {
        format!("{column} IN ({within})")
    }
}
