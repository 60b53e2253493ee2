package import MoonflowModel
package import OrderedCollections

/// What a run is pinned to (docs/reload.md): the workflow id, the content hash, and the full text of the
/// workflow file and of every script and schema it uses. A store keeps each hash once; after a
/// restart the `Workflow` is rebuilt from these texts, never from the files on disk, so a run
/// finishes, recovers and compensates with the definition it started with.
package struct PinnedDefinition: Sendable, Hashable {
    package var workflowID: String
    /// SHA-256 over `files` (the loader's `contentHash`): identical content, identical hash.
    package var hash: String
    /// Which entry of `files` is the workflow file; empty for a definition built in code (tests),
    /// which only the process that started the run can drive.
    package var workflowFile: String
    /// Project-relative path → text, the workflow file first.
    package var files: OrderedDictionary<String, String>

    package init(workflowID: String, hash: String, workflowFile: String = "", files: OrderedDictionary<String, String> = [:]) {
        self.workflowID = workflowID
        self.hash = hash
        self.workflowFile = workflowFile
        self.files = files
    }
}

/// Rebuilds the `Workflow` of a pinned definition (the composition root loads its texts with the
/// project loader). The engine caches the result by hash.
package protocol DefinitionResolver: Sendable {
    func workflow(for definition: PinnedDefinition) async throws -> Workflow
}

/// Why the engine could not rebuild a run's definition.
package struct DefinitionUnavailable: Error, Sendable, Hashable, CustomStringConvertible {
    package var hash: String
    package var reason: String
    package init(hash: String, reason: String) {
        self.hash = hash
        self.reason = reason
    }
    package var description: String { "cannot rebuild pinned definition \(hash.prefix(12)): \(reason)" }
}
