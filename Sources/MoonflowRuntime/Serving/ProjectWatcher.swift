package import Foundation
package import Logging
import ServiceLifecycle

/// Watches `workflows/`, `scripts/` and `schemas/` and reloads the catalog when they change
/// (docs/reload.md), by polling a fingerprint of every file (path, size, modification time).
///
/// Why polling: it sees every way editors save (in place, or a temporary file renamed over the
/// original) with no platform code, and costs a few `stat` calls per tick; measured in
/// `docs/reload.md`, it stays well under the 500 ms target. A change is debounced: the reload
/// runs once the fingerprint has been stable for `debounce`, so a file caught half-written is
/// read again once the writer is done, and the whole project must validate before it serves.
package struct ProjectWatcher: Service {
    let project: URL
    let catalog: LiveCatalog
    let interval: Duration
    let debounce: Duration
    let logger: Logger

    static let folders = ["workflows", "scripts", "schemas"]

    package init(
        project: URL, catalog: LiveCatalog, interval: Duration = .milliseconds(50), debounce: Duration = .milliseconds(100),
        logger: Logger
    ) {
        self.project = project
        self.catalog = catalog
        self.interval = interval
        self.debounce = debounce
        self.logger = logger
    }

    package func run() async throws {
        // `nil` until a listing succeeds: a failed listing is an error, never an empty project.
        var served = try? fingerprint()
        var pending: (fingerprint: [String: FileStamp], since: ContinuousClock.Instant)?
        var failing = false
        while !Task.isShuttingDownGracefully {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            let now: [String: FileStamp]
            do {
                now = try fingerprint()
                if failing {
                    logger.notice("watcher: the project's files can be listed again")
                    failing = false
                }
            } catch {
                // Out of descriptors, or a folder no longer readable: what is served keeps
                // serving, and the change (if any) is seen once listing works again.
                if !failing {
                    logger.error(
                        "watcher: the project's files cannot be listed; the current definitions keep serving",
                        metadata: ["error": .string("\(error)")])
                    failing = true
                }
                pending = nil
                continue
            }
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
        case .failed:
            logger.error(
                "reload failed; the current definitions keep serving: \(outcome.failure ?? "")", metadata: ["reason": .string(reason)])
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

    /// A folder of the project that exists but cannot be listed.
    struct ListingError: Error, CustomStringConvertible {
        var path: String
        var reason: String
        var description: String { "cannot list \(path): \(reason)" }
    }

    /// Every regular file of the watched folders; names starting with `.` (editor swap files) are
    /// left out. A folder that does not exist is empty; one that exists but cannot be listed
    /// (`EMFILE`, `EACCES`) throws — the caller must not take it for a folder emptied.
    func fingerprint() throws -> [String: FileStamp] {
        var stamps: [String: FileStamp] = [:]
        for folder in Self.folders {
            try Self.walk(project.appendingPathComponent(folder), relative: folder, into: &stamps)
        }
        return stamps
    }

    private static func walk(_ directory: URL, relative: String, into stamps: inout [String: FileStamp]) throws {
        let manager = FileManager.default
        let names: [String]
        do {
            names = try manager.contentsOfDirectory(atPath: directory.path)
        } catch {
            var isDirectory: ObjCBool = false
            // `stat` needs no descriptor, so it answers even when `opendir` could not.
            guard manager.fileExists(atPath: directory.path, isDirectory: &isDirectory) else { return }
            throw ListingError(path: relative, reason: "\(error)")
        }
        for name in names.sorted() where !name.hasPrefix(".") {
            let url = directory.appendingPathComponent(name)
            // Gone since the listing: the next tick sees it.
            guard let attributes = try? manager.attributesOfItem(atPath: url.path) else { continue }
            switch attributes[.type] as? FileAttributeType {
            case .typeDirectory?:
                try walk(url, relative: relative + "/" + name, into: &stamps)
            case .typeRegular?:
                stamps[relative + "/" + name] = FileStamp(
                    size: attributes[.size] as? Int ?? 0, modified: attributes[.modificationDate] as? Date ?? .distantPast)
            default:
                continue
            }
        }
    }
}
