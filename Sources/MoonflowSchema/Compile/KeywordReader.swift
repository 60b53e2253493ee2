import MoonflowModel
import OrderedCollections

/// Reads the keywords of one schema object with their expected types, turning a wrong type
/// into a `SchemaCompileError` that names the keyword's path.
struct KeywordReader {
    let location: SchemaLocation
    let base: String
    let members: OrderedDictionary<String, Value>
    /// The document's URI for errors, `nil` for the root document.
    let document: String?

    func at(_ tokens: String...) -> SchemaLocation {
        SchemaLocation(document: location.document, pointer: location.pointer + tokens)
    }

    func invalid(_ key: String, _ message: String, under name: String? = nil) -> SchemaCompileError {
        SchemaCompileError(
            code: .invalidKeyword, document: document,
            schemaPath: JSONPointer.string(location.pointer + [key] + (name.map { [$0] } ?? [])),
            message: "\(key) \(message)")
    }

    func string(_ key: String) throws(SchemaCompileError) -> String {
        guard case .string(let s)? = members[key] else { throw invalid(key, "must be a string") }
        return s
    }

    func bool(_ key: String) throws(SchemaCompileError) -> Bool {
        guard case .bool(let b)? = members[key] else { throw invalid(key, "must be a boolean") }
        return b
    }

    func object(_ key: String) throws(SchemaCompileError) -> OrderedDictionary<String, Value> {
        guard case .object(let o)? = members[key] else { throw invalid(key, "must be an object") }
        return o
    }

    func array(_ key: String) throws(SchemaCompileError) -> [Value] {
        guard case .array(let a)? = members[key] else { throw invalid(key, "must be an array") }
        return a
    }

    func number(_ key: String) throws(SchemaCompileError) -> JSONNumber {
        guard let value = members[key], let n = JSONNumber(value) else { throw invalid(key, "must be a number") }
        return n
    }

    /// A non-negative integer; `2.0` is accepted as 2.
    func count(_ key: String) throws(SchemaCompileError) -> Int {
        switch members[key] {
        case .int(let i)? where i >= 0: return Int(i)
        case .double(let d)? where d >= 0 && d == d.rounded() && d < 9e18: return Int(d)
        default: throw invalid(key, "must be a non-negative integer")
        }
    }

    /// The length of a non-empty array of schemas (the items are compiled as subschemas).
    func schemaList(_ key: String) throws(SchemaCompileError) -> Int {
        let items = try array(key)
        guard !items.isEmpty else { throw invalid(key, "must be a non-empty array of schemas") }
        return items.count
    }

    /// An array of unique strings (`required`, or a `dependentRequired` entry when `name` is given).
    func strings(_ key: String, _ name: String? = nil) throws(SchemaCompileError) -> [String] {
        let value = name.map { members[key]?[$0] } ?? members[key]
        guard case .array(let items)? = value else { throw invalid(key, "must be an array of strings", under: name) }
        var seen = Set<String>()
        return try items.map { item throws(SchemaCompileError) in
            guard case .string(let s) = item else { throw invalid(key, "must be an array of strings", under: name) }
            guard seen.insert(s).inserted else { throw invalid(key, "lists '\(s)' twice", under: name) }
            return s
        }
    }

    func types(_ key: String) throws(SchemaCompileError) -> JSONTypes {
        let names: [Value]
        switch members[key] {
        case .string?: names = [members[key]!]
        case .array(let list)?: names = list
        default: throw invalid(key, "must be a type name or an array of type names")
        }
        var types: JSONTypes = []
        for name in names {
            guard case .string(let s) = name, let type = JSONTypes(name: s) else {
                throw invalid(key, "has an unknown type \(name.jsonString())")
            }
            types.insert(type)
        }
        return types
    }
}
