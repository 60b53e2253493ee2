import Foundation
import Logging
import ServiceLifecycle

/// Watches `workflows/`, `scripts/` and `schemas/` and reloads the catalog when they change
/// (docs/reload.md), by polling a fingerprint of every file (path, size, modification time).
///
/// Why polling: it sees every way editors save (in place, or a temporary file renamed over the
/// original) with no platform code, and costs a few `stat` calls per tick; measured in
/// `docs/reload.md`, it stays well under the 500 ms target. A change is debounced: the reload
/// runs once the fingerprint has been stable for `debounce`, so a file caught half-written is
/// read again once the writer is done, and the whole project must validate before it serves.
public struct ProjectWatcher: Service {
    let project: URL
    let catalog: LiveCatalog
    let interval: Duration
    let debounce: Duration
    let logger: Logger

    static let folders = ["workflows", "scripts", "schemas"]

    public init(
        project: URL, catalog: LiveCatalog, interval: Duration = .milliseconds(50), debounce: Duration = .milliseconds(100),
        logger: Logger
    ) {
        self.project = project
        self.catalog = catalog
        self.interval = interval
        self.debounce = debounce
        self.logger = logger
    }

    public func run() async throws {
        var served = fingerprint()
        var pending: (fingerprint: [String: FileStamp], since: ContinuousClock.Instant)?
        while !Task.isShuttingDownGracefully {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            let now = fingerprint()
            if now == served {
                pending = nil
                continue
            }
            if pending?.fingerprint != now {
                pending = (now, .now)
                continue
            }
            guard let since = pending?.since, ContinuousClock.now - since >= debounce else { continue }
            served = now
            pending = nil
            let outcome = catalog.reload()
            Self.log(outcome, logger: logger, reason: "files changed")
        }
    }

    /// Logs what a reload did: the errors (`file:line:col`) when the project does not validate.
    static func log(_ outcome: ReloadOutcome, logger: Logger, reason: String) {
        switch outcome.status {
        case .unchanged:
            logger.debug("reload: nothing changed", metadata: ["reason": .string(reason)])
        case .reloaded:
            logger.info(
                "reload: new definitions serve",
                metadata: [
                    "reason": .string(reason), "added": .stringConvertible(outcome.added),
                    "changed": .stringConvertible(outcome.changed), "removed": .stringConvertible(outcome.removed),
                ])
        case .invalid:
            let errors = outcome.diagnostics.map(\.description).joined(separator: "\n")
            logger.error(
                "reload: the project does not validate; the previous definitions keep serving\n\(errors)",
                metadata: ["reason": .string(reason)])
        }
    }

    struct FileStamp: Hashable {
        var size: Int
        var modified: Date
    }

    /// Every regular file of the watched folders; names starting with `.` (editor swap files) are left out.
    func fingerprint() -> [String: FileStamp] {
        var stamps: [String: FileStamp] = [:]
        let manager = FileManager.default
        for folder in Self.folders {
            let root = project.appendingPathComponent(folder)
            for name in (try? manager.subpathsOfDirectory(atPath: root.path)) ?? [] {
                guard !name.split(separator: "/").contains(where: { $0.hasPrefix(".") }) else { continue }
                let path = root.appendingPathComponent(name).path
                guard let attributes = try? manager.attributesOfItem(atPath: path), attributes[.type] as? FileAttributeType == .typeRegular
                else { continue }
                stamps[folder + "/" + name] = FileStamp(
                    size: attributes[.size] as? Int ?? 0, modified: attributes[.modificationDate] as? Date ?? .distantPast)
            }
        }
        return stamps
    }
}
