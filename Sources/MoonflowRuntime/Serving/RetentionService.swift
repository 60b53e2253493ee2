package import Logging
package import MoonflowEngine
import MoonflowModel
import ServiceLifecycle

/// Retention (`store.retention`, docs/durability.md): at start and then every `interval`, deletes
/// the runs that ended more than `retention` ago (by the engine clock), `batch` at a time, each
/// batch one short transaction, with a pause between batches so the writes of live runs go first.
package struct RetentionService: Service {
    let store: any DurableRunStore
    let clock: any EngineClock
    let retention: Duration
    let interval: Duration
    let logger: Logger
    static let batch = 500

    package init(store: any DurableRunStore, clock: any EngineClock, retention: Duration, interval: Duration = .seconds(600), logger: Logger) {
        self.store = store
        self.clock = clock
        self.retention = retention
        self.interval = interval
        self.logger = logger
    }

    package func run() async throws {
        while !Task.isShuttingDownGracefully {
            do {
                let deleted = try await sweep()
                if deleted > 0 { logger.info("deleted finished runs past the retention", metadata: ["count": "\(deleted)"]) }
            } catch {
                logger.warning("deleting finished runs failed", metadata: ["error": .string("\(error)")])
            }
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) } } catch { return }
        }
    }

    /// Deletes every run past the retention now; returns how many.
    package func sweep() async throws -> Int {
        let cutoff = clock.now - retention
        var total = 0
        while !Task.isShuttingDownGracefully {
            let deleted = try await store.deleteFinishedRuns(before: cutoff, limit: Self.batch)
            total += deleted
            guard deleted == Self.batch else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        return total
    }
}
