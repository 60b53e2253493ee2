import ArgumentParser
import Foundation
import MoonflowModel
import MoonflowSchema

/// `moonflow schema …`: JSON Schema tools.
struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "JSON Schema (draft 2020-12) tools.",
        subcommands: [Check.self]
    )

    /// `moonflow schema check SCHEMA DATA`: validate one JSON document.
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a JSON document against a JSON Schema (draft 2020-12).",
            discussion: """
                DATA is a JSON file, or - for standard input. YAML data files are not supported yet.
                $refs in SCHEMA to other files resolve relative to SCHEMA's directory and may not leave it.
                Exit status: 0 valid; 1 invalid data, an invalid schema or a file that is not JSON; 2 usage error.
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The JSON Schema file.")
        var schema: String

        @Argument(help: "The JSON document to validate, or - for standard input.")
        var data: String

        @Flag(name: .long, help: "Assert `format` (date-time, date, email, uuid, uri, ipv4, ipv6) instead of only annotating.")
        var assertFormat = false

        func run() throws {
            let schemaURL = URL(fileURLWithPath: schema, relativeTo: global.projectURL).standardizedFileURL
            let schemaValue = try read(schemaURL.path, shownAs: schema)
            let instance = try read(data == "-" ? nil : URL(fileURLWithPath: data, relativeTo: global.projectURL).path, shownAs: data)
            let compiled: JSONSchema
            do {
                compiled = try JSONSchema(
                    schemaValue, baseURI: schemaURL,
                    resolver: FileSchemaResolver(root: schemaURL.deletingLastPathComponent()),
                    options: .init(assertFormats: assertFormat))
            } catch {
                printError("\(schema): error: invalid schema: \(error)")
                throw MoonflowExit.failure
            }
            let errors = compiled.validate(instance)
            switch global.format {
            case .json:
                let list: [Value] = errors.map {
                    ["instance_path": .string($0.instancePath), "schema_path": .string($0.schemaPath), "message": .string($0.message)]
                }
                print(Value.object(["valid": .bool(errors.isEmpty), "errors": .array(list)]).jsonString(pretty: true))
            case .text:
                print(errors.isEmpty ? "valid" : errors.map(\.description).joined(separator: "\n"))
            }
            if !errors.isEmpty { throw MoonflowExit.failure }
        }

        /// Reads and parses one JSON file (`nil` path: standard input); problems are reported as
        /// `file:line:col: error: …` with exit status 1, a missing file as a usage error.
        private func read(_ path: String?, shownAs name: String) throws -> Value {
            let bytes: [UInt8]
            if let path {
                guard let data = FileManager.default.contents(atPath: path) else {
                    printError("error: cannot read \(name)")
                    throw MoonflowExit.usage
                }
                bytes = [UInt8](data)
            } else {
                bytes = [UInt8](FileHandle.standardInput.readDataToEndOfFile())
            }
            do {
                return try Value(json: bytes)
            } catch {
                printError("\(path == nil ? "<stdin>" : name):\(error.line):\(error.column): error: \(error.message)")
                throw MoonflowExit.failure
            }
        }
    }
}
