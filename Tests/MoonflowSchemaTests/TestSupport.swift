import Foundation
import MoonflowModel

enum TestPaths {
    /// The repository root (this file is Tests/MoonflowSchemaTests/TestSupport.swift).
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    /// The official JSON-Schema-Test-Suite, shared next to the repositories.
    static let suite = repositoryRoot.deletingLastPathComponent()
        .appendingPathComponent("shared/testdata/json-schema-test-suite")
    static var suiteIsPresent: Bool {
        FileManager.default.fileExists(atPath: suite.appendingPathComponent("tests/draft2020-12").path)
    }
}

func loadJSON(_ url: URL) throws -> Value {
    try Value(json: [UInt8](try Data(contentsOf: url)))
}
