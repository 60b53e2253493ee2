import Crypto
package import Foundation
package import MoonflowModel
package import MoonflowYAML
package import OrderedCollections

/// A workflow as loaded from a project, with everything a run must pin (docs/reload.md): the text of the
/// workflow file and of every script and schema it uses, and a content hash over all of them.
package struct LoadedWorkflow: Sendable, Hashable {
    package var workflow: Workflow
    /// Project-relative path of the workflow file (`workflows/order.yaml`).
    package var file: String
    /// Project-relative path → content of every file the definition uses, the workflow file first.
    package var files: OrderedDictionary<String, String>
    /// SHA-256 (hex) over the paths and contents of `files`: identical content, identical hash.
    package var contentHash: String
}

/// The outcome of loading a project or a set of files: what loaded, and every diagnostic.
/// Also an `Error`: a failed load is reported with everything it found.
package struct ProjectLoadResult: Sendable, Error {
    package var workflows: [LoadedWorkflow]
    package var diagnostics: [Diagnostic]
    /// Workflow files read (valid or not).
    package var files: [String]
    /// Text of every file with a diagnostic, to render source lines.
    package var sources: [String: String]

    package var isValid: Bool { diagnostics.isEmpty }

    package func workflow(_ id: String) -> LoadedWorkflow? { workflows.first { $0.workflow.id == id } }

    /// Every diagnostic rendered like a compiler, with source lines and carets.
    package func renderedDiagnostics() -> String {
        diagnostics.map { $0.rendered(source: sources[$0.location.file]) }.joined(separator: "\n\n")
    }
}

/// Why `ProjectLoader.loadWorkflow` found nothing to run.
package enum WorkflowLookupError: Error, Sendable, CustomStringConvertible {
    /// No workflow with that id, and no such file.
    case notFound(String, known: [String])
    /// The file (or the project) does not validate.
    case invalid(ProjectLoadResult)

    package var description: String {
        switch self {
        case .notFound(let name, let known):
            var text = "no workflow '\(name)' in this project"
            if let s = Suggest.closest(to: name, in: known) { text += " — did you mean '\(s)'?" }
            if !known.isEmpty { text += " (known: \(known.joined(separator: ", ")))" }
            return text
        case .invalid(let result): return result.renderedDiagnostics()
        }
    }
}

/// Loads and validates workflow files of a project directory (docs/workflow-format.md).
package struct ProjectLoader: Sendable {
    package let projectDirectory: URL
    package let checker: (any ScriptChecking)?
    package let limits: YAMLLimits

    /// The names of moonflow.yaml's connections: workflows that name another connection (or a
    /// notification channel that is neither one nor `log`) are invalid. `nil`: not checked (the
    /// configuration is not known, or is invalid itself).
    package var connections: Set<String>?

    package init(projectDirectory: URL, checker: (any ScriptChecking)? = nil, limits: YAMLLimits = .init()) {
        self.projectDirectory = URL(fileURLWithPath: ProjectFileReader.lexicallyNormalized(projectDirectory.path))
        self.checker = checker
        self.limits = limits
    }

    /// Every `workflows/*.yaml` (and `.yml`) of the project, sorted by file name; `*.test.yaml`
    /// files hold `moonflow test` cases, not workflows. A `workflows/` that is a symbolic link is
    /// not listed (`loadProject` reports it).
    package func workflowFiles() -> [URL] { (try? listWorkflowFiles().get()) ?? [] }

    /// Reads project files under the confinement rule (docs/reload.md, `ProjectFileReader`).
    package var files: ProjectFileReader { ProjectFileReader(root: projectDirectory) }

    private func listWorkflowFiles() -> Result<[URL], Diagnostic> {
        let folder = projectDirectory.appendingPathComponent("workflows")
        switch files.names(in: folder) {
        case .failure(.missing): return .success([])
        case .failure(let failure):
            return .failure(Diagnostic(.badFile, "the folder workflows \(failure.predicate)", at: SourceLocation(file: "workflows", line: 1, column: 1)))
        case .success(let names):
            return .success(
                names.filter { ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && !$0.hasSuffix(".test.yaml") }.sorted()
                    .map { folder.appendingPathComponent($0) })
        }
    }

    /// The text of every `schemas/**/*.json`, read under the confinement rule (links and files
    /// that are not regular are left out), for a validator that serves `$ref`s from memory.
    package func schemaTexts() -> [(key: String, value: String)] {
        var texts: [(key: String, value: String)] = []
        func walk(_ folder: String, depth: Int) {
            guard depth < 16, case .success(let names) = files.names(in: projectDirectory.appendingPathComponent(folder)) else { return }
            for name in names.sorted() where !name.hasPrefix(".") {
                let path = folder + "/" + name
                switch files.read(projectDirectory.appendingPathComponent(path), maxSize: 1 << 20) {
                case .success(let bytes) where name.hasSuffix(".json"):
                    if let text = String(validating: bytes, as: UTF8.self) { texts.append((key: path, value: text)) }
                case .failure(.notRegular("a directory")): walk(path, depth: depth + 1)
                default: continue
                }
            }
        }
        walk("schemas", depth: 0)
        return texts
    }

    /// Loads the whole project: every workflow file, then checks across files (unique ids, child workflows).
    package func loadProject() -> ProjectLoadResult {
        switch listWorkflowFiles() {
        case .success(let urls): return load(files: urls)
        case .failure(let problem): return ProjectLoadResult(workflows: [], diagnostics: [problem], files: [], sources: [:])
        }
    }

    /// Loads the given workflow files and checks them together.
    package func load(files: [URL]) -> ProjectLoadResult { combine(files.map(loadFile)) }

    /// The checks across files (unique ids, child workflows) over files already read.
    private func combine(_ outcomes: [FileOutcome]) -> ProjectLoadResult {
        var result = ProjectLoadResult(workflows: [], diagnostics: [], files: [], sources: [:])
        var childReferences: [(String, SourceLocation)] = []
        var seen: [String: String] = [:]
        var declared = Set<String>()
        for outcome in outcomes {
            if let id = outcome.declaredID { declared.insert(id) }
            result.files.append(outcome.file)
            if let source = outcome.source { result.sources[outcome.file] = source }
            result.diagnostics += outcome.diagnostics
            childReferences += outcome.children
            guard let loaded = outcome.loaded else { continue }
            if let other = seen[loaded.workflow.id] {
                result.diagnostics.append(
                    Diagnostic(.duplicateName, "workflow id '\(loaded.workflow.id)' is also used by \(other)", at: loaded.workflow.location, hint: "each workflow needs its own id"))
                continue
            }
            seen[loaded.workflow.id] = loaded.file
            result.workflows.append(loaded)
        }
        // Child workflows may live in files not given: look them up in the project.
        let projectIDs = declared.union(childReferences.isEmpty ? [] : projectWorkflowIDs())
        for (id, location) in childReferences where !projectIDs.contains(id) {
            var message = "child workflow '\(id)' does not exist in this project"
            if let s = Suggest.closest(to: id, in: Array(projectIDs)) { message += " — did you mean '\(s)'?" }
            result.diagnostics.append(Diagnostic(.unknownReference, message, at: location))
        }
        if let connections {
            for outcome in outcomes {
                result.diagnostics += outcome.connectionReferences.compactMap { $0.problem(connections: connections) }
            }
        }
        for cycle in childCycles(result.workflows) {
            let first = result.workflows.first { $0.workflow.id == cycle[0] }!
            let location = childReferences.first { $0.0 == cycle[1] && $0.1.file == first.file }?.1 ?? first.workflow.location
            result.diagnostics.append(
                Diagnostic(.cycle, "child workflows call each other in a cycle: \(cycle.map { "'\($0)'" }.joined(separator: " runs "))", at: location, hint: "a run would start children forever"))
        }
        result.diagnostics.sort { ($0.location.file, $0.location.line, $0.location.column) < ($1.location.file, $1.location.line, $1.location.column) }
        return result
    }

    /// A workflow by id (from `workflows/`) or by path, validated. The project's other files are
    /// not required to be valid when one is asked for by id.
    package func loadWorkflow(_ idOrPath: String) throws(WorkflowLookupError) -> LoadedWorkflow {
        let asPath = URL(fileURLWithPath: idOrPath, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        if idOrPath.hasSuffix(".yaml") || idOrPath.hasSuffix(".yml") || idOrPath.contains("/") {
            guard FileManager.default.fileExists(atPath: asPath.path) else { throw .notFound(idOrPath, known: []) }
            let result = load(files: [asPath])
            guard result.isValid, let loaded = result.workflows.first else { throw .invalid(result) }
            return loaded
        }
        for url in workflowFiles() {
            // Each file is read once: the matching one's outcome goes straight to the cross-file checks.
            let outcome = loadFile(url)
            let named = outcome.declaredID == idOrPath || (outcome.declaredID == nil && url.deletingPathExtension().lastPathComponent == idOrPath)
            guard named else { continue }
            let result = combine([outcome])
            guard result.isValid, let checked = result.workflows.first else { throw .invalid(result) }
            return checked
        }
        throw .notFound(idOrPath, known: projectWorkflowIDs().sorted())
    }

    /// Cycles of `type: workflow` references among loaded workflows, each reported once.
    private func childCycles(_ workflows: [LoadedWorkflow]) -> [[String]] {
        var children: [String: [String]] = [:]
        for loaded in workflows {
            children[loaded.workflow.id] = loaded.workflow.activities.compactMap { if case .workflow(let id) = $0.body { id } else { nil } }
        }
        var cycles: [[String]] = []
        var reported = Set<String>()
        for start in workflows.map(\.workflow.id).sorted() where !reported.contains(start) {
            // Breadth-first search for a path back to `start`.
            var previous: [String: String] = [:]
            var queue = children[start] ?? []
            for child in queue { previous[child] = start }
            var index = 0
            while index < queue.count, previous[start] == nil || queue[index] != start {
                let current = queue[index]
                index += 1
                if current == start { break }
                for next in children[current] ?? [] where previous[next] == nil {
                    previous[next] = current
                    queue.append(next)
                }
            }
            guard previous[start] != nil else { continue }
            var path = [start]
            var node = previous[start]!
            while node != start {
                path.append(node)
                node = previous[node]!
            }
            path.append(start)
            // `path` walks the cycle backwards from `start`.
            let cycle = Array(path.reversed())
            cycles.append(cycle)
            reported.formUnion(cycle)
        }
        return cycles
    }

    /// Rebuilds a definition from the texts a run pinned (`LoadedWorkflow.files`), without reading
    /// the disk: recovery and compensation use the version the run started with (docs/durability.md, docs/reload.md).
    /// The result has the same content hash as when it was pinned. Child workflows are not checked
    /// here: a child run pins its own definition when it starts.
    package func loadPinned(files: OrderedDictionary<String, String>, workflowFile: String) throws(ProjectLoadResult) -> LoadedWorkflow {
        guard let text = files[workflowFile] else {
            let missing = Diagnostic(.badFile, "the pinned definition has no file '\(workflowFile)'", at: SourceLocation(file: workflowFile, line: 1, column: 1))
            throw ProjectLoadResult(workflows: [], diagnostics: [missing], files: [workflowFile], sources: [:])
        }
        let workflowDirectory = projectDirectory.appendingPathComponent(workflowFile).deletingLastPathComponent()
        let outcome = loadSource(
            Array(text.utf8), file: workflowFile, workflowDirectory: workflowDirectory, files: .pinned(Dictionary(uniqueKeysWithValues: files.map { ($0.key, $0.value) })))
        guard let loaded = outcome.loaded else {
            throw ProjectLoadResult(workflows: [], diagnostics: outcome.diagnostics, files: [workflowFile], sources: [workflowFile: text])
        }
        return loaded
    }

    private func projectWorkflowIDs() -> Set<String> {
        Set(workflowFiles().compactMap { loadFile($0).declaredID })
    }

    struct FileOutcome {
        var file: String
        var source: String?
        var loaded: LoadedWorkflow?
        /// The id the file declares, even when the file has other errors.
        var declaredID: String?
        var diagnostics: [Diagnostic]
        var children: [(String, SourceLocation)]
        var connectionReferences: [ConnectionReference] = []
    }

    func displayPath(_ url: URL) -> String {
        // Lexical: `standardizedFileURL` would follow links at a `..` and name the link's target.
        let path = ProjectFileReader.lexicallyNormalized(url.path)
        let root = projectDirectory.path.hasSuffix("/") ? projectDirectory.path : projectDirectory.path + "/"
        return path.hasPrefix(root) ? String(path.dropFirst(root.count)) : path
    }

    func loadFile(_ url: URL) -> FileOutcome {
        let file = displayPath(url)
        let start = SourceLocation(file: file, line: 1, column: 1)
        // A file of the project is read under the confinement rule; a file named outside the
        // project (`moonflow validate /elsewhere/flow.yaml`) under the same rule from its own folder.
        var reader = files
        if reader.relativePath(of: url) == nil { reader = ProjectFileReader(root: url.deletingLastPathComponent()) }
        let bytes: [UInt8]
        switch reader.read(url, maxSize: limits.maxFileSize) {
        case .success(let read): bytes = read
        case .failure(.tooLarge(let size, let limit)):
            let tooLarge = Diagnostic(
                DiagnosticCode("FileTooLarge"), "the file is \(size) bytes, over the limit of \(limit) bytes", at: start,
                hint: "split the workflow, or move large data into schemas/ or scripts/")
            return FileOutcome(file: file, diagnostics: [tooLarge], children: [])
        case .failure(let failure) where failure.isSymbolicLink:
            // Never read, never quoted: the diagnostic names the file only.
            let refused = Diagnostic(.pathEscapes, "the file \(failure.predicate)", at: start, hint: "replace the link with the file itself")
            return FileOutcome(file: file, diagnostics: [refused], children: [])
        case .failure(let failure):
            let unreadable = Diagnostic(.badFile, "the file \(failure.predicate)", at: start, hint: "check that it exists and is readable")
            return FileOutcome(file: file, diagnostics: [unreadable], children: [])
        }
        return loadSource(bytes, file: file, workflowDirectory: url.deletingLastPathComponent(), files: .disk(files))
    }

    /// Reads one workflow's text; scripts and schemas come from `files` (the disk or pinned texts).
    func loadSource(_ bytes: [UInt8], file: String, workflowDirectory: URL, files: ProjectFiles) -> FileOutcome {
        var outcome = FileOutcome(file: file, diagnostics: [], children: [])
        // The parser accepts a UTF-8 byte order mark; the text shown under errors and pinned must not
        // carry it, or carets on line 1 would sit one column off.
        let text = String(decoding: bytes, as: UTF8.self)
        outcome.source = text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
        let root: YAMLNode
        do {
            root = try YAMLParser.parse(bytes, file: file, limits: limits)
        } catch {
            outcome.diagnostics = error.diagnostics
            return outcome
        }
        let context = FileContext(file: file, source: outcome.source ?? "")
        let environment = FileEnvironment(project: projectDirectory, workflowDirectory: workflowDirectory, checker: checker, loader: self, files: files)
        let reader = WorkflowReader(context: context, environment: environment, source: outcome.source ?? "")
        let workflow = reader.read(root)
        if let workflow { reader.check(workflow) }
        outcome.declaredID = workflow?.id
        outcome.diagnostics = context.diagnostics
        outcome.children = reader.childReferences.map { ($0.0, $0.1.location) }
        outcome.connectionReferences = reader.connectionReferences
        guard let workflow, !context.hasErrors else { return outcome }
        var used = OrderedDictionary<String, String>()
        used[file] = outcome.source
        for (path, text) in environment.usedFiles { used[path] = text }
        outcome.loaded = LoadedWorkflow(workflow: workflow, file: file, files: used, contentHash: Self.hash(used))
        return outcome
    }

    static func hash(_ files: OrderedDictionary<String, String>) -> String {
        var hasher = SHA256()
        for (path, text) in files {
            // Length-prefixed, so no two different file sets can produce the same byte stream.
            for part in [path, text] {
                let bytes = Array(part.utf8)
                hasher.update(data: withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { Array($0) })
                hasher.update(data: bytes)
            }
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
