package import Foundation
package import MoonflowModel
import MoonflowYAML

/// Reads the file `moonflow mock-services` serves (docs/integrations.md, "A local mock of the
/// services"): the `http:` mocks of `moonflow test`, each answering `/<connection><path>`:
///
/// ```yaml
/// services:
///   - {connection: payments, method: POST, path: /charges, respond: {status: 201, json: {id: PAY-1}}}
/// ```
package enum MockServicesLoader {
    package static func load(_ url: URL, displayName: String) -> Result<[WorkflowTestCase.HTTPMock], ProjectLoadResult> {
        let start = SourceLocation(file: displayName, line: 1, column: 1)
        guard let data = FileManager.default.contents(atPath: url.path), data.count <= YAMLLimits().maxFileSize else {
            let problem = Diagnostic(.badFile, "cannot read the mock services file (at most 1 MB)", at: start)
            return .failure(ProjectLoadResult(workflows: [], diagnostics: [problem], files: [displayName], sources: [:]))
        }
        let source = String(decoding: data, as: UTF8.self)
        let root: YAMLNode
        do {
            root = try YAMLParser.parse(Array(data), file: displayName)
        } catch {
            return .failure(ProjectLoadResult(workflows: [], diagnostics: error.diagnostics, files: [displayName], sources: [displayName: source]))
        }
        let context = FileContext(file: displayName, source: source)
        var mocks: [WorkflowTestCase.HTTPMock] = []
        if let map = MappingReader(root, context, what: "the mock services file", allowed: ["services"]) {
            if let list = map["services"], let items = list.sequence {
                mocks = items.compactMap { WorkflowTestLoader.readHTTPMock($0, context) }
            } else {
                context.error(.missingKey, "the mock services file needs 'services', a list of mocked requests", at: root)
            }
        }
        guard !context.hasErrors else {
            return .failure(ProjectLoadResult(workflows: [], diagnostics: context.sortedDiagnostics, files: [displayName], sources: [displayName: source]))
        }
        return .success(mocks)
    }
}
