import Foundation
import MoonflowModel
import OrderedCollections

/// Where a project's files come from: the disk, or the texts a run pinned when it started
/// (docs/reload.md: a run recovers and compensates with its own version even after the files changed).
enum ProjectFiles: Sendable {
    /// The project directory, read under the confinement rule of `ProjectFileReader`.
    case disk(ProjectFileReader)
    /// Project-relative path → text.
    case pinned([String: String])

    func read(_ path: String, at url: URL, maxSize: Int) -> Result<[UInt8], ProjectFileReader.Failure> {
        switch self {
        case .disk(let reader): return reader.read(url, maxSize: maxSize)
        case .pinned(let files):
            guard let text = files[path] else { return .failure(.missing) }
            let bytes = Array(text.utf8)
            return bytes.count <= maxSize ? .success(bytes) : .failure(.tooLarge(size: bytes.count, limit: maxSize))
        }
    }

    func exists(_ path: String, at url: URL) -> Bool {
        switch self {
        case .disk(let reader): reader.entryExists(url)
        case .pinned(let files): files[path] != nil
        }
    }

    /// File names directly in a project folder.
    func names(in folder: String, at url: URL) -> [String] {
        switch self {
        case .disk(let reader): (try? reader.names(in: url).get()) ?? []
        case .pinned(let files):
            files.keys.filter { $0.hasPrefix(folder + "/") && !$0.dropFirst(folder.count + 1).contains("/") }
                .map { String($0.dropFirst(folder.count + 1)) }
        }
    }
}

/// Resolves scripts and schemas for one workflow file, confined to the project directory, and
/// remembers the text of every file it handed out (the definition pins them).
final class FileEnvironment: LoadEnvironment {
    let project: URL
    let workflowDirectory: URL
    let checker: (any ScriptChecking)?
    let loader: ProjectLoader
    let files: ProjectFiles
    private(set) var usedFiles = OrderedDictionary<String, String>()

    /// Scripts larger than this are refused before parsing (the sandbox's source cap, docs/sandbox.md).
    static let maxScriptSize = 256 << 10

    init(project: URL, workflowDirectory: URL, checker: (any ScriptChecking)?, loader: ProjectLoader, files: ProjectFiles) {
        self.project = project
        self.workflowDirectory = workflowDirectory
        self.checker = checker
        self.loader = loader
        self.files = files
    }

    var checksPatternShapes: Bool { if case .disk = files { true } else { false } }

    func scriptExists(named name: String) -> Bool {
        files.exists("scripts/\(name).lua", at: project.appendingPathComponent("scripts/\(name).lua"))
    }

    func script(_ nameOrPath: String) -> Result<ScriptChunk, LoadEnvironmentError> {
        let isPath = nameOrPath.contains("/") || nameOrPath.hasSuffix(".lua")
        let url = isPath ? workflowDirectory.appendingPathComponent(nameOrPath) : project.appendingPathComponent("scripts/\(nameOrPath).lua")
        switch read(url, what: "script", maxSize: Self.maxScriptSize) {
        case .success(let (path, text)): return .success(ScriptChunk(source: text, name: path))
        case .failure(var failure):
            if !isPath, failure.code == .unknownReference {
                let known = files.names(in: "scripts", at: project.appendingPathComponent("scripts"))
                    .filter { $0.hasSuffix(".lua") }.map { String($0.dropLast(4)) }
                failure.message = "no script named '\(nameOrPath)' (looked for scripts/\(nameOrPath).lua)"
                if let s = Suggest.closest(to: nameOrPath, in: known) { failure.message += " — did you mean '\(s)'?" }
                failure.code = .unknownReference
                failure.hint = "create scripts/\(nameOrPath).lua, or give a path relative to the workflow file"
            }
            return .failure(failure)
        }
    }

    func schema(_ reference: String) -> Result<SchemaDefinition, LoadEnvironmentError> {
        let parts = reference.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
        let url = workflowDirectory.appendingPathComponent(String(parts[0]))
        switch loadJSON(url) {
        case .failure(let f): return .failure(f)
        case .success(let (path, document)):
            var schema = document
            if parts.count == 2, !parts[1].isEmpty {
                guard let target = Self.resolvePointer(String(parts[1]), in: document) else {
                    return .failure(LoadEnvironmentError(code: .unknownReference, message: "'\(reference)': \(path) has nothing at #\(parts[1])"))
                }
                schema = target
            }
            if let problem = loadNestedReferences(in: document, from: url.deletingLastPathComponent()) { return .failure(problem) }
            return .success(SchemaDefinition(schema: schema, file: path))
        }
    }

    /// Files a schema `$ref`s are pinned too; a missing one is a load error now, not a run failure later.
    private func loadNestedReferences(in value: Value, from directory: URL, depth: Int = 0) -> LoadEnvironmentError? {
        guard depth < 64 else { return nil }
        switch value {
        case .object(let members):
            if case .string(let ref)? = members["$ref"], !ref.hasPrefix("#"), !ref.contains("://"), !ref.hasPrefix("urn:") {
                let url = directory.appendingPathComponent(String(ref.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]))
                if !usedFiles.keys.contains(loader.displayPath(url)) {
                    switch loadJSON(url) {
                    case .failure(let f): return f
                    case .success(let (_, nested)):
                        if let problem = loadNestedReferences(in: nested, from: url.deletingLastPathComponent(), depth: depth + 1) { return problem }
                    }
                }
            }
            for member in members.values {
                if let problem = loadNestedReferences(in: member, from: directory, depth: depth + 1) { return problem }
            }
        case .array(let items):
            for item in items {
                if let problem = loadNestedReferences(in: item, from: directory, depth: depth + 1) { return problem }
            }
        default: break
        }
        return nil
    }

    private func loadJSON(_ url: URL) -> Result<(String, Value), LoadEnvironmentError> {
        switch read(url, what: "schema", maxSize: 1 << 20) {
        case .failure(let f): return .failure(f)
        case .success(let (path, text)):
            do {
                let document = try Value(json: text)
                if checksPatternShapes, let finding = SchemaPatternCheck.findings(in: document).first {
                    let inner = SchemaPatternCheck.location(of: finding.pattern, in: text, file: path)
                        .map { Diagnostic(.invalidValue, finding.message, at: $0, hint: SchemaPatternCheck.Finding.hint) }
                    return .failure(
                        LoadEnvironmentError(
                            code: .invalidValue, message: "the schema \(path) has a pattern with a nested repetition at #\(SchemaPatternCheck.pointer(finding.path))",
                            hint: inner == nil ? SchemaPatternCheck.Finding.hint : nil, inner: inner))
                }
                return .success((path, document))
            } catch {
                let inner = Diagnostic(.badFile, "invalid JSON: \(error.message)", at: SourceLocation(file: path, line: error.line, column: error.column))
                return .failure(LoadEnvironmentError(code: .badFile, message: "the schema \(path) is not valid JSON", inner: inner))
            }
        }
    }

    /// Every script and schema goes through the project's confinement rule (`ProjectFileReader`):
    /// a file that fails it is named, never quoted.
    private func read(_ url: URL, what: String, maxSize: Int) -> Result<(String, String), LoadEnvironmentError> {
        let path = loader.displayPath(url)
        if let cached = usedFiles[path] { return .success((path, cached)) }
        let bytes: [UInt8]
        switch files.read(path, at: url, maxSize: maxSize) {
        case .success(let read): bytes = read
        case .failure(.outside):
            return .failure(LoadEnvironmentError(code: .pathEscapes, message: "the \(what) '\(path)' is outside the project directory", hint: "keep scripts in scripts/ and schemas in schemas/"))
        case .failure(.missing):
            return .failure(LoadEnvironmentError(code: .unknownReference, message: "the \(what) '\(path)' does not exist", hint: "check the path; it is relative to the workflow file"))
        case .failure(let failure):
            return .failure(Self.refusal(failure, what: what, path: path))
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return .failure(LoadEnvironmentError(code: .badFile, message: "the \(what) '\(path)' is not valid UTF-8"))
        }
        usedFiles[path] = text
        return .success((path, text))
    }

    static func refusal(_ failure: ProjectFileReader.Failure, what: String, path: String) -> LoadEnvironmentError {
        switch failure {
        case .symbolicLink:
            LoadEnvironmentError(code: .pathEscapes, message: "the \(what) '\(path)' \(failure.predicate)", hint: "replace the link with the file itself")
        case .unreadable:
            LoadEnvironmentError(code: .badFile, message: "the \(what) '\(path)' \(failure.predicate)", hint: "check its permissions")
        default:
            LoadEnvironmentError(code: .badFile, message: "the \(what) '\(path)' \(failure.predicate)")
        }
    }

    /// RFC 6901 JSON Pointer (`/definitions/item`, with `~0`/`~1` escapes).
    static func resolvePointer(_ pointer: String, in document: Value) -> Value? {
        guard pointer.hasPrefix("/") else { return nil }
        var current = document
        for raw in pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            let token = (raw.removingPercentEncoding ?? String(raw)).replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            switch current {
            case .object(let members):
                guard let next = members[token] else { return nil }
                current = next
            case .array(let items):
                guard let index = Int(token), items.indices.contains(index) else { return nil }
                current = items[index]
            default: return nil
            }
        }
        return current
    }
}
