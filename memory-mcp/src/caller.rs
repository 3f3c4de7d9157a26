//! Who a call comes from, and what that lets it see.

use std::sync::Arc;

use memory_core::Scope;
use memory_storage_turso::access::KeyLimits;

/// The caller of a tool or resource request, which the server resolves before dispatching it.
#[derive(Clone, Debug)]
pub enum Caller {
    /// The server's operator (stdio, loopback HTTP without keys, or the admin key): unconfined.
    Operator,
    /// A tenant, through one of its API keys: confined to its scope.
    Tenant(Arc<Tenant>),
}

/// A tenant as its key names it.
#[derive(Debug)]
pub struct Tenant {
    /// The key's id.
    pub key_id: i64,
    /// The scope every read and write of the key is confined to.
    pub scope: Scope,
    /// What the key may spend.
    pub limits: KeyLimits,
}

impl Caller {
    /// The scope the caller is confined to, if it is.
    pub fn confined_to(&self) -> Option<&Scope> {
        match self {
            Caller::Operator => None,
            Caller::Tenant(tenant) => Some(&tenant.scope),
        }
    }

    /// The scope a memory call works in: the tenant's own, or for the operator the one the call names or else
    /// the server's. (A tenant naming another scope is refused before the call runs.)
    pub fn scope(&self, given: Option<&str>, default: &Scope) -> memory_core::Result<Scope> {
        match (self, given) {
            (Caller::Tenant(tenant), _) => Ok(tenant.scope.clone()),
            (Caller::Operator, Some(name)) => Scope::new(name.trim()),
            (Caller::Operator, None) => Ok(default.clone()),
        }
    }

    /// Whether the caller may name `scope` in a call: any for the operator, its own for a tenant.
    pub fn may_name(&self, scope: &str) -> bool {
        self.confined_to()
            .is_none_or(|own| own.as_str() == scope.trim())
    }

    /// Whether the caller may see something recorded in `scope` (an episode's or a pattern's).
    pub fn sees(&self, scope: Option<&Scope>) -> bool {
        self.confined_to().is_none_or(|own| scope == Some(own))
    }
}
