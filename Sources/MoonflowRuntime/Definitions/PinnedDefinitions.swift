package import MoonflowEngine
package import MoonflowLoader
package import MoonflowModel

// The bridge from the loader to the engine: what a run is pinned to, how a pinned run gets its
// workflow back, and where child runs find the definition they start.

extension LoadedWorkflow {
    /// The definition with the texts it pins: its file and every script and schema it uses, so
    /// a run recovers and compensates with this version whatever happens to the files (docs/reload.md).
    package var pinned: PinnedWorkflow {
        PinnedWorkflow(
            workflow: workflow,
            definition: PinnedDefinition(workflowID: workflow.id, hash: contentHash, workflowFile: file, files: files))
    }
}

/// Rebuilds a run's workflow from the texts it pinned, never from the files on disk (docs/reload.md).
package struct PinnedDefinitionLoader: DefinitionResolver {
    let loader: ProjectLoader

    package init(loader: ProjectLoader) { self.loader = loader }

    package func workflow(for definition: PinnedDefinition) async throws -> Workflow {
        do {
            return try loader.loadPinned(files: definition.files, workflowFile: definition.workflowFile).workflow
        } catch {
            throw DefinitionUnavailable(hash: definition.hash, reason: error.renderedDiagnostics())
        }
    }
}

/// The catalog of one-shot commands (`moonflow run`, `runs resume`…): a child run (`type:
/// workflow`) starts the definition of the workflow named as the project's files hold it now.
/// (`moonflow serve` uses `LiveCatalog`: the last valid load of the whole project.)
struct ProjectCatalog: WorkflowCatalog {
    let loader: ProjectLoader

    func workflow(id: String) async -> PinnedWorkflow? {
        guard let loaded = try? loader.loadWorkflow(id) else { return nil }
        return loaded.pinned
    }
}
