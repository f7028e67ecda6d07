//! What the master tells the outside while it supervises: the configuration file's master
//! hooks (run in the hook process), Prometheus scrapes and statsd lines.

use std::time::{Duration, Instant};

use super::stats;
use super::supervisor::Master;
use crate::sys;

impl Master {
    /// Calls a master hook (in the hook process), if the configuration file defines it; what it
    /// raised is logged there.
    pub(super) fn hook(
        &mut self,
        name: &str,
        mut event: serde_json::Value,
        wait: Option<Duration>,
    ) {
        let Some(hooks) = &mut self.hook_process else {
            return;
        };
        event["num_workers"] = self.config.workers.into();
        let _ = hooks.call(name, event, wait);
    }

    /// Answers metrics scrapes, and sends statsd lines once a second.
    pub(super) fn report_metrics(&mut self) {
        if let Some(mut exporter) = self.exporter.take() {
            exporter.turn(&|| {
                let (sum, workers) = self.metrics_sum();
                stats::prometheus(&sum, workers, &self.totals.restarts)
            });
            self.exporter = Some(exporter);
        }
        if self
            .statsd
            .as_ref()
            .is_some_and(|s| s.sent.elapsed() >= Duration::from_secs(1))
        {
            let (sum, workers) = self.metrics_sum();
            if let Some(statsd) = &mut self.statsd {
                let text = stats::statsd(&statsd.prefix, &sum, &statsd.last, workers);
                for line in text.lines() {
                    let _ = statsd.socket.send(line.as_bytes());
                }
                statsd.last = sum;
                statsd.sent = Instant::now();
            }
        }
    }

    /// Every counter added up, and how many workers serve.
    fn metrics_sum(&self) -> ([u64; sys::COUNTERS], usize) {
        let live = self.workers.values().map(|w| self.slots.get(w.slot));
        let serving = self.workers.values().filter(|w| w.booted).count();
        (self.totals.sum(live), serving)
    }
}
