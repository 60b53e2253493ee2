import Foundation
import MoonflowModel
import Testing

@testable import MoonflowSchema

/// The official JSON-Schema-Test-Suite, draft 2020-12 (skipped with a message where it is absent).
///
/// Every case must pass unless it is listed in `expectedFailures` with a reason; a listed case
/// that starts passing fails the test too, so the list stays true.
@Suite("JSON-Schema-Test-Suite draft 2020-12")
struct ConformanceTests {
    /// Expected failures, as "file: group description / test description", with the reason.
    static let expectedFailures: [String: String] = [:]

    /// Expected failures of `optional/format/*` for the formats we assert.
    static let expectedFormatFailures: [String: String] = [:]

    static let assertedFormats = Set(SchemaFormat.allCases.map(\.rawValue))

    static var directory: URL { TestPaths.suite.appendingPathComponent("tests/draft2020-12") }

    static func files(in subdirectory: String) -> [String] {
        let url = subdirectory.isEmpty ? directory : directory.appendingPathComponent(subdirectory)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().map { subdirectory.isEmpty ? $0 : subdirectory + "/" + $0 }
    }

    static let resolver = FileSchemaResolver(
        root: TestPaths.suite.appendingPathComponent("remotes"), publicBase: URL(string: "http://localhost:1234/")!)

    struct Outcome {
        var passed = 0
        var total = 0
        var failures: [String: String] = [:]
    }

    /// Runs one file; `validate` must agree with `isValid` on every case.
    static func run(_ file: String, assertFormats: Bool) throws -> Outcome {
        var outcome = Outcome()
        let groups = try loadJSON(directory.appendingPathComponent(file))
        for group in groups.arrayValue ?? [] {
            let description = group["description"]?.stringValue ?? "?"
            let tests = group["tests"]?.arrayValue ?? []
            let schema: JSONSchema
            do {
                schema = try JSONSchema(
                    group["schema"]!, resolver: resolver, options: .init(assertFormats: assertFormats))
            } catch {
                for test in tests {
                    outcome.total += 1
                    outcome.failures["\(file): \(description) / \(test["description"]?.stringValue ?? "?")"] = "compile: \(error)"
                }
                continue
            }
            for test in tests {
                outcome.total += 1
                let name = "\(file): \(description) / \(test["description"]?.stringValue ?? "?")"
                let expected = test["valid"]?.boolValue ?? false
                let fast = schema.isValid(test["data"]!)
                let errors = schema.validate(test["data"]!)
                if fast == expected && errors.isEmpty == expected {
                    outcome.passed += 1
                } else {
                    outcome.failures[name] = "expected \(expected), isValid \(fast), errors \(errors)"
                }
            }
        }
        return outcome
    }

    @Test("required cases", .enabled(if: TestPaths.suiteIsPresent, "the JSON-Schema-Test-Suite is not at ../shared/testdata"),
          arguments: files(in: ""))
    func required(_ file: String) throws {
        let outcome = try Self.run(file, assertFormats: false)
        check(outcome, against: Self.expectedFailures, file: file)
    }

    @Test("optional/format cases with format assertion on",
          .enabled(if: TestPaths.suiteIsPresent, "the JSON-Schema-Test-Suite is not at ../shared/testdata"),
          arguments: files(in: "optional/format").filter { assertedFormats.contains(String($0.dropFirst(16).dropLast(5))) })
    func formats(_ file: String) throws {
        let outcome = try Self.run(file, assertFormats: true)
        check(outcome, against: Self.expectedFormatFailures, file: file)
    }

    func check(_ outcome: Outcome, against expected: [String: String], file: String) {
        for (name, detail) in outcome.failures.sorted(by: { $0.key < $1.key }) where expected[name] == nil {
            Issue.record("unexpected failure: \(name): \(detail)")
        }
        for name in expected.keys where name.hasPrefix(file + ":") && outcome.failures[name] == nil {
            Issue.record("expected failure now passes, remove it from the list: \(name)")
        }
    }

    /// Prints the figures the report quotes (passed / total for required, optional/format and all of optional).
    @Test("figures", .enabled(if: TestPaths.suiteIsPresent, "the JSON-Schema-Test-Suite is not at ../shared/testdata"))
    func figures() throws {
        func total(_ files: [String], assertFormats: Bool) throws -> Outcome {
            try files.reduce(into: Outcome()) { sum, file in
                let outcome = try Self.run(file, assertFormats: assertFormats)
                sum.passed += outcome.passed
                sum.total += outcome.total
                sum.failures.merge(outcome.failures) { a, _ in a }
            }
        }
        let required = try total(Self.files(in: ""), assertFormats: false)
        let formats = try total(
            Self.files(in: "optional/format").filter { Self.assertedFormats.contains(String($0.dropFirst(16).dropLast(5))) },
            assertFormats: true)
        let optional = try total(Self.files(in: "optional"), assertFormats: false)
        print("JSON-Schema-Test-Suite 2020-12 required: \(required.passed)/\(required.total)")
        print("optional/format (asserted formats): \(formats.passed)/\(formats.total)")
        print("optional (other files, informational): \(optional.passed)/\(optional.total)")
        for name in optional.failures.keys.sorted() { print("  optional failure: \(name)") }
        #expect(required.total > 0)
    }
}
