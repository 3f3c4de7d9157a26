//! What the server has done and what it holds, for Prometheus: served at `/metrics` in the OpenMetrics text
//! format, which Prometheus scrapes natively.
//!
//! Tool calls are counted by tool and outcome and timed into a histogram as they finish; the cache counters, the
//! calls in flight, the learner's queue and the store's size are read when a scrape asks for them.

use std::{
    sync::atomic::{AtomicI64, AtomicU64, Ordering},
    time::Duration,
};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

/// Upper bounds of the latency buckets, in seconds: 0.25 ms to about 16 s, doubling.
fn latency_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.000_25, 2.0, 17)
}

/// How a tool call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It returned a result.
    Ok,
    /// It returned a result marked as an error (bad arguments, not found, a limit, …).
    Error,
    /// It was refused before it ran (unknown tool, shutting down).
    Refused,
    /// It panicked or was cancelled; the caller got an internal error.
    Failed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    tool: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabel {
    tool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

/// The values a scrape reads from the store and the process.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// Reads the caches answered, and those they did not.
    pub cache: memory_core::CacheCounts,
    /// Completed episodes waiting for the pattern learner.
    pub pattern_queue: Option<u64>,
    /// Memory records per kind, and their content's bytes.
    pub records: Option<(Vec<(String, u64)>, u64)>,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    latency: Family<ToolLabel, Histogram>,
    in_flight: Gauge,
    cache_hits: Counter<u64, AtomicU64>,
    cache_misses: Counter<u64, AtomicU64>,
    pattern_queue: Gauge<i64, AtomicI64>,
    records: Family<KindLabel, Gauge>,
    content_bytes: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let metrics = Metrics {
            registry: Registry::with_prefix("memory"),
            calls: Family::default(),
            latency: Family::new_with_constructor(|| Histogram::new(latency_buckets())),
            in_flight: Gauge::default(),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
            pattern_queue: Gauge::default(),
            records: Family::default(),
            content_bytes: Gauge::default(),
        };
        metrics.register()
    }
}

impl Metrics {
    fn register(mut self) -> Self {
        let r = &mut self.registry;
        r.register(
            "tool_calls",
            "Tool calls by tool and outcome",
            self.calls.clone(),
        );
        r.register(
            "tool_call_duration_seconds",
            "Time from a tool call's arrival to its result",
            self.latency.clone(),
        );
        r.register(
            "tool_calls_in_flight",
            "Tool calls running now",
            self.in_flight.clone(),
        );
        r.register(
            "cache_hits",
            "Episodes and memories read from the redb cache",
            self.cache_hits.clone(),
        );
        r.register(
            "cache_misses",
            "Episodes and memories read from libSQL because the cache did not hold them",
            self.cache_misses.clone(),
        );
        r.register(
            "pattern_queue_depth",
            "Completed episodes waiting for the pattern learner",
            self.pattern_queue.clone(),
        );
        r.register(
            "records",
            "Memory records stored, by kind",
            self.records.clone(),
        );
        r.register(
            "record_content_bytes",
            "Bytes of memory record content stored",
            self.content_bytes.clone(),
        );
        self
    }

    /// Counts a tool call that started; the returned guard counts it finished.
    pub fn started(&self) -> InFlight<'_> {
        self.in_flight.inc();
        InFlight(&self.in_flight)
    }

    /// Records a finished tool call.
    pub fn finished(&self, tool: &str, outcome: Outcome, elapsed: Duration) {
        self.calls
            .get_or_create(&CallLabels {
                tool: tool.to_string(),
                status: outcome.as_str().to_string(),
            })
            .inc();
        if outcome != Outcome::Refused {
            self.latency
                .get_or_create(&ToolLabel {
                    tool: tool.to_string(),
                })
                .observe(elapsed.as_secs_f64());
        }
    }

    /// The metrics as OpenMetrics text, with the observed values.
    pub fn render(&self, observed: &Observed) -> String {
        self.cache_hits
            .inner()
            .store(observed.cache.hits, Ordering::Relaxed);
        self.cache_misses
            .inner()
            .store(observed.cache.misses, Ordering::Relaxed);
        if let Some(depth) = observed.pattern_queue {
            self.pattern_queue.set(depth as i64);
        }
        if let Some((kinds, bytes)) = &observed.records {
            self.records.clear();
            for (kind, count) in kinds {
                self.records
                    .get_or_create(&KindLabel { kind: kind.clone() })
                    .set(*count as i64);
            }
            self.content_bytes.set(*bytes as i64);
        }
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

/// A tool call in flight; counted finished when dropped, even if the call panicked.
pub struct InFlight<'a>(&'a Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_and_observed_values_are_rendered() {
        let metrics = Metrics::default();
        {
            let _call = metrics.started();
            metrics.finished("get_episode", Outcome::Ok, Duration::from_micros(700));
        }
        metrics.finished("get_episode", Outcome::Error, Duration::from_millis(3));
        metrics.finished("nope", Outcome::Refused, Duration::ZERO);
        let text = metrics.render(&Observed {
            cache: memory_core::CacheCounts { hits: 5, misses: 2 },
            pattern_queue: Some(3),
            records: Some((vec![("note".into(), 4)], 120)),
        });
        for line in [
            "memory_tool_calls_total{tool=\"get_episode\",status=\"ok\"} 1",
            "memory_tool_calls_total{tool=\"get_episode\",status=\"error\"} 1",
            "memory_tool_calls_total{tool=\"nope\",status=\"refused\"} 1",
            "memory_tool_call_duration_seconds_count{tool=\"get_episode\"} 2",
            "memory_tool_call_duration_seconds_bucket{le=\"0.001\",tool=\"get_episode\"} 1",
            "memory_tool_calls_in_flight 0",
            "memory_cache_hits_total 5",
            "memory_cache_misses_total 2",
            "memory_pattern_queue_depth 3",
            "memory_records{kind=\"note\"} 4",
            "memory_record_content_bytes 120",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(
            !text.contains("tool=\"nope\"} "),
            "a refused call has no latency:\n{text}"
        );
    }
}
