import Logging
package import MoonflowModel
import Synchronization

/// How the process logs, set up once by the edge (the CLI) from `moonflow.yaml`'s `logging`.
package enum RuntimeLogging {
    private static let bootstrapped = Mutex(false)

    /// Sets the format of standard error's lines, and makes it the default of every logger made
    /// with `Logger(label:)` in this process (a library's included); swift-log allows one
    /// bootstrap a process, so only the first call bootstraps.
    package static func bootstrap(_ format: EngineConfig.LogFormat) {
        StandardErrorLog.format = format
        let first = bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        if first { LoggingSystem.bootstrap { StandardErrorLog.handler(label: $0) } }
    }
}
