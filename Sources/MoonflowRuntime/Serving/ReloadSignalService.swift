import ServiceLifecycle
import UnixSignals

/// Reloads the project on SIGHUP (docs/reload.md).
struct ReloadSignalService: Service {
    let core: ServedProject

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            core.reload(reason: "SIGHUP")
        }
    }
}
