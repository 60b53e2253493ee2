package import Logging
package import MoonflowEngine
import ServiceLifecycle

/// The work finder of a process on a shared store (docs/scale-out.md): claims runs that are ready
/// and nobody's — those of a process whose lease expired — in batches and gives them to the
/// dispatcher; then waits for another process to announce work (`LISTEN`), at most `poll` (the
/// fallback), and admits the queued runs that fit (`max_workflows` across processes). Stopping cleanly, it waits for the drives in flight, then hands every run this
/// process owns over to the others at once.
package struct ClaimService: Service {
    let store: any SharedRunStore
    let dispatcher: RunDispatcher
    let logger: Logger
    let poll: Duration
    static let batch = 64

    package init(store: any SharedRunStore, dispatcher: RunDispatcher, logger: Logger, poll: Duration = .seconds(5)) {
        self.store = store
        self.dispatcher = dispatcher
        self.logger = logger
        self.poll = poll
    }

    package func run() async throws {
        while !Task.isShuttingDownGracefully {
            var claimed = 0
            do {
                let runs = try await store.claimReadyRuns(limit: Self.batch)
                claimed = runs.count
                if !runs.isEmpty { logger.info("claimed runs to drive", metadata: ["count": "\(runs.count)"]) }
                runs.forEach(dispatcher.submit)
                // A slot freed anywhere in the cluster (the wake-up) or missed (the poll).
                try await dispatcher.engine.admitQueuedRuns()
            } catch {
                logger.error("claiming runs failed", metadata: ["error": .string("\(error)")])
            }
            if claimed == Self.batch { continue }
            await cancelWhenGracefulShutdown { await store.waitForWork(timeout: poll) }
        }
        while dispatcher.backlogCount > 0 {
            do { try await Task.sleep(for: .milliseconds(50)) } catch { return }
        }
        do {
            try await store.releaseAll()
        } catch {
            logger.warning("handing runs over failed: they are taken over when this process's lease ends", metadata: ["error": .string("\(error)")])
        }
    }
}
