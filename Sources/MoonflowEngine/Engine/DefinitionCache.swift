import MoonflowModel
import Synchronization

/// The workflows of pinned definitions, by workflow id and hash: those this process started runs
/// with, and those rebuilt from stored texts by the `DefinitionResolver` (after a restart).
final class DefinitionCache: Sendable {
    private let resolver: (any DefinitionResolver)?
    private let workflows = Mutex<[Key: Workflow]>([:])
    /// The scheduler of each definition a driver ran: built once per definition, not per drive
    /// (it indexes the graph's dependencies by position).
    private let schedulers = Mutex<[Key: RunScheduler]>([:])

    init(resolver: (any DefinitionResolver)?) { self.resolver = resolver }

    /// A definition of a workflow (no string is built to look one up, as every drive does).
    private struct Key: Hashable {
        var workflow: String
        var hash: String
    }

    private static func key(_ definition: PinnedDefinition) -> Key { key(workflow: definition.workflowID, hash: definition.hash) }
    private static func key(workflow: String, hash: String) -> Key { Key(workflow: workflow, hash: hash) }

    /// The workflow of a definition this process started runs with or rebuilt already, without
    /// reading the definition's texts.
    func cached(workflow: String, hash: String) -> Workflow? {
        workflows.withLock { $0[Self.key(workflow: workflow, hash: hash)] }
    }

    /// The scheduler of `workflow`, whose definition hash is `hash`.
    func scheduler(for workflow: Workflow, hash: String) -> RunScheduler {
        let key = Self.key(workflow: workflow.id, hash: hash)
        if let cached = schedulers.withLock({ $0[key] }) { return cached }
        let scheduler = RunScheduler(workflow: workflow)
        schedulers.withLock { $0[key] = scheduler }
        return scheduler
    }

    func remember(_ pinned: PinnedWorkflow) {
        workflows.withLock { $0[Self.key(pinned.definition)] = pinned.workflow }
    }

    func workflow(for definition: PinnedDefinition) async throws -> Workflow {
        let key = Self.key(definition)
        if let cached = workflows.withLock({ $0[key] }) { return cached }
        guard let resolver, !definition.files.isEmpty else {
            throw DefinitionUnavailable(hash: definition.hash, reason: "it was built in code by another process, without file texts")
        }
        let workflow = try await resolver.workflow(for: definition)
        workflows.withLock { $0[key] = workflow }
        return workflow
    }
}
