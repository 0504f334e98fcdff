//! Prometheus metrics of the operator: reconciles, errors, durations, in-flight work, provider
//! calls and managed resources by phase. Served as OpenMetrics text on `/metrics`.

use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels naming a controller.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    /// Controller name, e.g. `virtualserver`.
    pub controller: String,
}

/// Labels of a failed reconcile.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// Controller name.
    pub controller: String,
    /// The error's `metric_label()`.
    pub error: String,
}

/// Labels of a provider call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    /// Provider operation, e.g. `create_server`.
    pub operation: String,
    /// `ok` or the provider error's label.
    pub result: String,
}

/// Labels of a provider call's latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    /// Provider operation.
    pub operation: String,
}

/// Labels of the managed-resources gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    /// Kind, e.g. `VirtualServer`.
    pub kind: String,
    /// Phase, e.g. `Available`.
    pub phase: String,
}

fn histogram() -> Histogram {
    Histogram::new([
        0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

/// Every metric of the operator, with the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    /// Reconciles started, by controller.
    pub reconciles: Family<ControllerLabels, Counter>,
    /// Reconciles that ended in an error, by controller and error label.
    pub reconcile_errors: Family<ErrorLabels, Counter>,
    /// Reconcile duration in seconds, by controller.
    pub reconcile_duration: Family<ControllerLabels, Histogram>,
    /// Reconciles running now, by controller (the work queue's in-flight part).
    pub reconciles_in_flight: Family<ControllerLabels, Gauge>,
    /// Provider calls by operation and result.
    pub provider_calls: Family<ProviderLabels, Counter>,
    /// Provider call latency in seconds, by operation.
    pub provider_latency: Family<OperationLabels, Histogram>,
    /// Managed resources by kind and phase, as last reconciled.
    pub managed_resources: Family<PhaseLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("suido");
        let reconciles = Family::<ControllerLabels, Counter>::default();
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        let reconcile_duration =
            Family::<ControllerLabels, Histogram>::new_with_constructor(histogram as fn() -> _);
        let reconciles_in_flight = Family::<ControllerLabels, Gauge>::default();
        let provider_calls = Family::<ProviderLabels, Counter>::default();
        let provider_latency =
            Family::<OperationLabels, Histogram>::new_with_constructor(histogram as fn() -> _);
        let managed_resources = Family::<PhaseLabels, Gauge>::default();
        registry.register("reconciles", "Reconciles started", reconciles.clone());
        registry.register(
            "reconcile_errors",
            "Reconciles that failed, by error",
            reconcile_errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Duration of reconciles",
            reconcile_duration.clone(),
        );
        registry.register(
            "reconciles_in_flight",
            "Reconciles running now",
            reconciles_in_flight.clone(),
        );
        registry.register(
            "provider_calls",
            "Calls to the platform provider, by operation and result",
            provider_calls.clone(),
        );
        registry.register(
            "provider_call_duration_seconds",
            "Latency of calls to the platform provider",
            provider_latency.clone(),
        );
        registry.register(
            "managed_resources",
            "Managed resources by kind and phase",
            managed_resources.clone(),
        );
        Metrics {
            registry,
            reconciles,
            reconcile_errors,
            reconcile_duration,
            reconciles_in_flight,
            provider_calls,
            provider_latency,
            managed_resources,
        }
    }
}

impl Metrics {
    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Counts a reconcile and returns a guard that records its duration when dropped.
    pub fn reconcile_started(&self, controller: &str) -> ReconcileTimer<'_> {
        let labels = ControllerLabels {
            controller: controller.to_owned(),
        };
        self.reconciles.get_or_create(&labels).inc();
        self.reconciles_in_flight.get_or_create(&labels).inc();
        ReconcileTimer {
            metrics: self,
            labels,
            start: Instant::now(),
        }
    }

    /// Counts a failed reconcile.
    pub fn reconcile_failed(&self, controller: &str, error: &str) {
        self.reconcile_errors
            .get_or_create(&ErrorLabels {
                controller: controller.to_owned(),
                error: error.to_owned(),
            })
            .inc();
    }

    /// Records one provider call.
    pub fn provider_call(&self, operation: &str, result: &str, seconds: f64) {
        self.provider_calls
            .get_or_create(&ProviderLabels {
                operation: operation.to_owned(),
                result: result.to_owned(),
            })
            .inc();
        self.provider_latency
            .get_or_create(&OperationLabels {
                operation: operation.to_owned(),
            })
            .observe(seconds);
    }
}

/// Records a reconcile's duration and in-flight count when dropped.
pub struct ReconcileTimer<'a> {
    metrics: &'a Metrics,
    labels: ControllerLabels,
    start: Instant,
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        self.metrics
            .reconcile_duration
            .get_or_create(&self.labels)
            .observe(self.start.elapsed().as_secs_f64());
        self.metrics
            .reconciles_in_flight
            .get_or_create(&self.labels)
            .dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reconciles_errors_and_provider_calls() {
        let m = Metrics::default();
        {
            let _t = m.reconcile_started("virtualserver");
            m.reconcile_failed("virtualserver", "provider_transient");
        }
        m.provider_call("create_server", "ok", 0.02);
        let text = m.encode();
        assert!(text.contains("suido_reconciles_total{controller=\"virtualserver\"} 1"));
        assert!(text.contains(
            "suido_reconcile_errors_total{controller=\"virtualserver\",error=\"provider_transient\"} 1"
        ));
        assert!(text.contains("suido_reconciles_in_flight{controller=\"virtualserver\"} 0"));
        assert!(
            text.contains(
                "suido_provider_calls_total{operation=\"create_server\",result=\"ok\"} 1"
            )
        );
        assert!(
            text.contains("suido_reconcile_duration_seconds_count{controller=\"virtualserver\"} 1")
        );
    }
}
