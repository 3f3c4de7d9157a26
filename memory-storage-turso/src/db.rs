//! One libSQL connection with a cache of prepared statements.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use libsql::{Connection, Row, Statement, params::IntoParams};
use memory_core::Result;

use crate::error::MapErr;

/// A connection, plus (embedded only) its prepared statements, reused across calls: preparing costs about as
/// much as running a small statement. Remote statements are not cached: inside a transaction they must be
/// prepared on the transaction's own stream.
#[derive(Clone)]
pub(crate) struct Db {
    pub(crate) conn: Connection,
    statements: Option<Arc<Mutex<HashMap<&'static str, Statement>>>>,
}

impl Db {
    /// Wraps a connection; `cache` enables the statement cache.
    pub(crate) fn new(conn: Connection, cache: bool) -> Self {
        Db {
            conn,
            statements: cache.then(Default::default),
        }
    }

    /// The same statement cache on another handle of the same connection (a transaction's).
    pub(crate) fn with_conn(&self, conn: Connection) -> Self {
        Db {
            conn,
            statements: self.statements.clone(),
        }
    }

    async fn statement(&self, sql: &'static str) -> Result<Statement> {
        let cached = self
            .statements
            .as_ref()
            .and_then(|s| s.lock().unwrap_or_else(|e| e.into_inner()).remove(sql));
        match cached {
            Some(statement) => Ok(statement),
            None => self.conn.prepare(sql).await.db(),
        }
    }

    fn give_back(&self, sql: &'static str, statement: Statement) {
        if let Some(statements) = &self.statements {
            statement.reset();
            statements
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(sql, statement);
        }
    }

    /// Runs a statement that returns no rows; returns the number of rows changed.
    pub(crate) async fn execute(
        &self,
        sql: &'static str,
        params: impl IntoParams,
    ) -> Result<usize> {
        let statement = self.statement(sql).await?;
        let changed = statement.execute(params).await.db()?;
        self.give_back(sql, statement);
        Ok(changed)
    }

    /// Runs a query and maps every row.
    pub(crate) async fn query_map<T>(
        &self,
        sql: &'static str,
        params: impl IntoParams,
        mut map: impl FnMut(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        let statement = self.statement(sql).await?;
        let mut rows = statement.query(params).await.db()?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await.db()? {
            out.push(map(&row)?);
        }
        drop(rows);
        self.give_back(sql, statement);
        Ok(out)
    }

    /// Runs a query and maps its first row, if any.
    pub(crate) async fn query_first<T>(
        &self,
        sql: &'static str,
        params: impl IntoParams,
        map: impl FnOnce(&Row) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut map = Some(map);
        let mut rows = self
            .query_map(sql, params, |row| match map.take() {
                Some(map) => map(row).map(Some),
                None => Ok(None),
            })
            .await?;
        Ok(if rows.is_empty() {
            None
        } else {
            rows.swap_remove(0)
        })
    }
}
