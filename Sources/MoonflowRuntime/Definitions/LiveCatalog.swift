import Foundation
package import MoonflowEngine
package import MoonflowLoader
package import MoonflowModel
import Synchronization

/// One version of a workflow the server has served.
package struct WorkflowVersion: Sendable, Hashable {
    package var hash: String
    /// The `version:` label of the file, when it has one.
    package var label: String?
    package var loadedAt: Timestamp
}

/// What a reload did (docs/reload.md).
package struct ReloadOutcome: Sendable {
    package enum Status: String, Sendable {
        case reloaded, unchanged, invalid
        /// The project could not be read whole (a folder listing failed: out of descriptors, no
        /// permission); nothing changed, and `failure` says why.
        case failed
    }
    package var status: Status
    package var added: [String] = []
    package var changed: [String] = []
    package var removed: [String] = []
    /// Every problem of the project when it does not validate (the old definitions keep serving).
    package var diagnostics: [Diagnostic] = []
    package var failure: String?
}

/// The definitions the server serves: the last valid load of the project, swapped atomically by
/// a reload, with every version seen and the errors of the last invalid load (docs/reload.md).
///
/// A failed load keeps the previous definitions; identical content keeps the version it had. The
/// catalog is also the engine's `WorkflowCatalog`, so child runs start the current definition.
package final class LiveCatalog: WorkflowCatalog {
    struct Snapshot {
        var workflows: [String: LoadedWorkflow] = [:]
        var triggers = EventTriggers(workflows: [])
        var versions: [String: [WorkflowVersion]] = [:]
        var diagnostics: [Diagnostic] = []
        /// When each served workflow's schedule triggers were loaded as they are now.
        var schedulesSince: [String: Timestamp] = [:]
    }

    private let loader: ProjectLoader
    private let clock: any EngineClock
    private let snapshot = Mutex(Snapshot())
    /// Serialises reloads (the watcher, SIGHUP and the API may ask at once) without holding the
    /// snapshot lock while the project loads.
    private let reloading = Mutex(())
    /// Validates with the schema files of the current definitions; swapped with them.
    package let validator = SwappableValidator()
    /// Told of the definitions a reload added or changed (the engine takes their new `concurrency`).
    private let reloadHandler = Mutex<(@Sendable ([Workflow]) -> Void)?>(nil)

    package func onReload(_ handler: @escaping @Sendable ([Workflow]) -> Void) { reloadHandler.withLock { $0 = handler } }

    package init(loader: ProjectLoader, clock: any EngineClock) {
        self.loader = loader
        self.clock = clock
    }

    /// Loads and validates the whole project; swaps it in when valid.
    @discardableResult
    package func reload() -> ReloadOutcome {
        reloading.withLock { _ in
            let result = loader.loadProject()
            guard result.isValid else {
                snapshot.withLock { $0.diagnostics = result.diagnostics }
                return ReloadOutcome(status: .invalid, diagnostics: result.diagnostics)
            }
            if let unread = unreadWorkflowFiles(result) {
                return ReloadOutcome(
                    status: .failed,
                    failure: "\(unread.joined(separator: ", ")) exist but were not listed: the folder listing failed, so no workflow is removed")
            }
            let now = clock.now
            let outcome = snapshot.withLock { current in
                var outcome = ReloadOutcome(status: .unchanged)
                var next = current
                next.diagnostics = []
                next.workflows = Dictionary(uniqueKeysWithValues: result.workflows.map { ($0.workflow.id, $0) })
                for loaded in result.workflows {
                    let id = loaded.workflow.id
                    switch current.workflows[id]?.contentHash {
                    case nil: outcome.added.append(id)
                    case loaded.contentHash: continue
                    default: outcome.changed.append(id)
                    }
                    if current.workflows[id].map(\.workflow.scheduleTriggers) != loaded.workflow.scheduleTriggers {
                        next.schedulesSince[id] = now
                    }
                    if next.versions[id]?.last?.hash != loaded.contentHash {
                        next.versions[id, default: []].append(WorkflowVersion(hash: loaded.contentHash, label: loaded.workflow.version, loadedAt: now))
                    }
                }
                outcome.removed = current.workflows.keys.filter { next.workflows[$0] == nil }.sorted()
                for id in outcome.removed { next.schedulesSince[id] = nil }
                if !outcome.added.isEmpty || !outcome.changed.isEmpty || !outcome.removed.isEmpty {
                    outcome.status = .reloaded
                    next.triggers = EventTriggers(workflows: result.workflows.map(\.pinned))
                    validator.replace(with: Self.schemaValidator(result.workflows))
                }
                current = next
                return outcome
            }
            let touched = Set(outcome.added + outcome.changed)
            if !touched.isEmpty, let handler = reloadHandler.withLock({ $0 }) {
                handler(result.workflows.map(\.workflow).filter { touched.contains($0.id) })
            }
            return outcome
        }
    }

    /// Files of served workflows that a load did not read although they are still on disk: the
    /// listing of `workflows/` failed or came back short (a failed `readdir` looks like an
    /// empty folder), which must never read as "every workflow deleted". A workflow whose file
    /// is gone, or whose file was read and now declares another id, is removed as it should be.
    private func unreadWorkflowFiles(_ result: ProjectLoadResult) -> [String]? {
        let read = Set(result.files)
        let loadedIDs = Set(result.workflows.map(\.workflow.id))
        let root = loader.projectDirectory
        let unread = snapshot.withLock { $0.workflows.values }.filter { served in
            !loadedIDs.contains(served.workflow.id) && !read.contains(served.file)
                && FileManager.default.fileExists(atPath: root.appendingPathComponent(served.file).path)
        }.map(\.file).sorted()
        return unread.isEmpty ? nil : unread
    }

    /// The current definition of a workflow; `nil` when unknown or deleted.
    package func current(_ id: String) -> LoadedWorkflow? { snapshot.withLock { $0.workflows[id] } }

    package func workflow(id: String) async -> PinnedWorkflow? { current(id)?.pinned }

    /// When the current schedule triggers of a workflow were loaded: at the load that added the
    /// workflow, or the last one that changed its `schedule:` triggers. The schedule service
    /// starts a schedule that appeared while it runs at its first tick after this.
    package func schedulesSince(_ id: String) -> Timestamp? { snapshot.withLock { $0.schedulesSince[id] } }

    /// Current definitions, by id.
    package var workflows: [LoadedWorkflow] { snapshot.withLock { $0.workflows.values.sorted { $0.workflow.id < $1.workflow.id } } }

    /// Every version of a workflow, oldest first (also for one deleted since).
    package func versions(of id: String) -> [WorkflowVersion] { snapshot.withLock { $0.versions[id] ?? [] } }

    /// Errors of the last load when it failed; empty when the project served is the last one read.
    package var diagnostics: [Diagnostic] { snapshot.withLock { $0.diagnostics } }

    /// The event triggers of the current definitions.
    package var triggers: EventTriggers { snapshot.withLock { $0.triggers } }

    /// A validator over every schema file the definitions pin (`schemas/*.json`).
    private static func schemaValidator(_ workflows: [LoadedWorkflow]) -> JSONSchemaValidator {
        JSONSchemaValidator(schemaTexts: workflows.flatMap { $0.files.map { (key: $0.key, value: $0.value) } })
    }
}

extension Workflow {
    /// The `schedule:` triggers (cron and time zone), in file order.
    var scheduleTriggers: [Trigger.Kind] {
        triggers.map(\.kind).filter { if case .schedule = $0 { true } else { false } }
    }
}

/// A `SchemaValidating` whose validator a reload replaces, so the engine built once validates
/// with the schema files of the definitions currently served.
package final class SwappableValidator: SchemaValidating {
    private let current = Mutex(JSONSchemaValidator(schemaFiles: [:]))

    func replace(with validator: JSONSchemaValidator) { current.withLock { $0 = validator } }

    package func validate(_ value: Value, against schema: Value) -> [String] {
        current.withLock { $0 }.validate(value, against: schema)
    }
}
