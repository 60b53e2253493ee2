import Foundation
import Logging
import MoonflowEngine
import Testing

@testable import MoonflowServer

@Suite("schemas/openapi.yaml documents exactly the routes the router registers")
struct OpenAPITests {
    static let document = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("schemas/openapi.yaml")

    /// `METHOD /path` of every operation under `paths:` (two-space path keys, four-space methods).
    static func documented() throws -> Set<String> {
        var operations = Set<String>()
        var path: String?
        var inPaths = false
        for line in try String(contentsOf: document, encoding: .utf8).split(separator: "\n") {
            if !line.hasPrefix(" ") { inPaths = line == "paths:" }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") {
                path = String(line.dropFirst(2).dropLast())
            } else if let path, let method = ["get", "post", "put", "patch", "delete"].first(where: { line == "    \($0):" }) {
                operations.insert("\(method.uppercased()) \(path)")
            }
        }
        return operations
    }

    @Test func everyRouteIsDocumentedAndViceVersa() throws {
        let router = try TestServer.router()
        // `HEAD` is answered wherever `GET` is, by the convention the document states, not per operation.
        let registered = Set(router.routes.filter { $0.method != .head }.map { "\($0.method) \($0.path)" })
        #expect(registered.count > 15)
        #expect(registered == (try Self.documented()))
    }
}
