//! The limits an execution runs under: the defaults, the ceilings an operator allows, and their checks.

use std::time::Duration;

use crate::{Error, Result};

/// What one execution may use. Every limit is enforced by wasmtime, outside the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time, enforced by epoch interruption.
    pub timeout: Duration,
    /// Linear memory in bytes, enforced by the store's resource limiter (memory.grow fails beyond it).
    pub memory_bytes: usize,
    /// Fuel (roughly one unit per WebAssembly instruction), enforced by wasmtime's fuel metering.
    pub fuel: u64,
    /// Bytes of standard output kept; more is dropped and reported as truncated.
    pub stdout_bytes: usize,
    /// Bytes of standard error kept; more is dropped and reported as truncated.
    pub stderr_bytes: usize,
    /// Bytes of source code accepted.
    pub code_bytes: usize,
    /// Bytes of standard input accepted.
    pub stdin_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(5),
            memory_bytes: 64 << 20,
            fuel: 20_000_000_000,
            stdout_bytes: 1 << 20,
            stderr_bytes: 1 << 20,
            code_bytes: 256 << 10,
            stdin_bytes: 1 << 20,
        }
    }
}

/// The most a request may ask for with [`Overrides`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ceilings {
    /// The longest `timeout` a request may set.
    pub timeout: Duration,
    /// The largest `memory_bytes` a request may set.
    pub memory_bytes: usize,
}

impl Default for Ceilings {
    fn default() -> Self {
        Ceilings {
            timeout: Duration::from_secs(60),
            memory_bytes: 512 << 20,
        }
    }
}

/// The limits a request may change, each within the sandbox's [`Ceilings`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Wall-clock time in milliseconds (1 or more).
    pub timeout_ms: Option<u64>,
    /// Linear memory in MiB (4 or more: the interpreter needs about 3 MiB to start).
    pub memory_mb: Option<u64>,
}

/// The smallest memory limit a request may set, in MiB.
pub const MIN_MEMORY_MB: u64 = 4;

impl Limits {
    /// These limits with a request's overrides applied, or a validation error naming the field.
    pub fn with(&self, overrides: Overrides, ceilings: &Ceilings) -> Result<Limits> {
        let mut limits = *self;
        if let Some(ms) = overrides.timeout_ms {
            let max = ceilings.timeout.as_millis();
            if ms == 0 || u128::from(ms) > max {
                return Err(Error::validation(
                    "timeout_ms",
                    format!("{ms} is out of range: between 1 and {max}"),
                ));
            }
            limits.timeout = Duration::from_millis(ms);
        }
        if let Some(mb) = overrides.memory_mb {
            let max = (ceilings.memory_bytes >> 20) as u64;
            if !(MIN_MEMORY_MB..=max).contains(&mb) {
                return Err(Error::validation(
                    "memory_mb",
                    format!("{mb} is out of range: between {MIN_MEMORY_MB} and {max}"),
                ));
            }
            limits.memory_bytes = (mb as usize) << 20;
        }
        Ok(limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply_within_the_ceilings_and_are_refused_beyond() {
        let ceilings = Ceilings::default();
        let limits = Limits::default()
            .with(
                Overrides {
                    timeout_ms: Some(250),
                    memory_mb: Some(16),
                },
                &ceilings,
            )
            .unwrap();
        assert_eq!(limits.timeout, Duration::from_millis(250));
        assert_eq!(limits.memory_bytes, 16 << 20);
        for overrides in [
            Overrides {
                timeout_ms: Some(0),
                ..Overrides::default()
            },
            Overrides {
                timeout_ms: Some(60_001),
                ..Overrides::default()
            },
            Overrides {
                memory_mb: Some(3),
                ..Overrides::default()
            },
            Overrides {
                memory_mb: Some(513),
                ..Overrides::default()
            },
        ] {
            let err = Limits::default().with(overrides, &ceilings).unwrap_err();
            assert!(matches!(err, Error::Validation { .. }), "{err}");
        }
    }
}
