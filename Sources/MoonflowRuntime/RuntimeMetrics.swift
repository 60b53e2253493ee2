import Metrics
package import Prometheus

/// The process's metrics backend: swift-metrics bootstrapped to a Prometheus registry, once per
/// process (swift-metrics allows one bootstrap), by the edge that wants metrics (`moonflow
/// serve` unless `monitoring: {metrics: false}`, a test server); every served runtime of the process (tests start several) shares it.
/// One-shot commands never touch it, so their engine's metrics go nowhere and cost nothing.
package enum RuntimeMetrics {
    package static let prometheus: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(DescribedMetricsFactory(registry: registry))
        return registry
    }()
}
