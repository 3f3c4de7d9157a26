//! Graceful shutdown: the gate every tool call passes, which closes once the calls in flight have finished, and
//! the signals that start it.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// More calls than can ever be in flight at once.
const PERMITS: u32 = 1 << 24;

/// Counts the tool calls in flight; [`Gate::close`] waits for them and turns later ones away.
#[derive(Debug)]
pub struct Gate {
    permits: Arc<Semaphore>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            permits: Arc::new(Semaphore::new(PERMITS as usize)),
        }
    }
}

impl Gate {
    /// A pass for one call, held until it finishes; `None` once the gate is closing or closed.
    pub async fn enter(&self) -> Option<OwnedSemaphorePermit> {
        self.permits.clone().acquire_owned().await.ok()
    }

    /// Waits until every call in flight has finished, then refuses new ones. Calls that arrive while it waits
    /// queue behind it (the semaphore is fair) and are refused.
    pub async fn close(&self) {
        if let Ok(all) = self.permits.acquire_many(PERMITS).await {
            self.permits.close();
            drop(all);
        }
    }
}

/// Listens for SIGTERM and SIGINT (Ctrl-C) from now on, so that neither ends the process outright, and returns
/// the future that resolves on the first of them, naming it. The server calls it as it starts: a signal that
/// arrives before the future is awaited (while the store opens, or during the handshake) still stops it cleanly.
pub fn signal() -> impl Future<Output = &'static str> {
    #[cfg(unix)]
    let listening = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        )
    };
    async move {
        #[cfg(unix)]
        match listening {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            _ => {
                tracing::warn!(
                    "cannot listen for SIGTERM and SIGINT; stop the server by closing its input"
                );
                std::future::pending().await
            }
        }
        #[cfg(not(unix))]
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C",
            Err(_) => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn close_waits_for_calls_in_flight_and_refuses_later_ones() {
        let gate = Gate::default();
        let pass = gate.enter().await.expect("open");
        let mut close = std::pin::pin!(gate.close());
        // Polled once: it cannot finish while a call holds its pass.
        tokio::select! {
            biased;
            _ = &mut close => panic!("closed while a call was in flight"),
            _ = std::future::ready(()) => {}
        }
        drop(pass);
        close.await;
        assert!(gate.enter().await.is_none());
    }
}
