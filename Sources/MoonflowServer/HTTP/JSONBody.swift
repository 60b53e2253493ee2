import Hummingbird
import MoonflowModel
import OrderedCollections

/// Reads a JSON request body strictly (`Value(json:)`: line and column of the first error) and
/// its fields by name, so every bad body is a 400 naming the field at fault (`$.input`), never a
/// 500, and a body over `RequestBodyLimit` a 413 (docs/api.md).
struct JSONBody {
    let fields: OrderedDictionary<String, Value>

    /// The body's object; an empty body is an empty object. Keys not in `allowed` are refused.
    init(_ request: Request, allowed: Set<String>) async throws {
        var bytes: ByteBuffer
        do {
            bytes = try await request.body.collect(upTo: RequestBodyLimit.maxBytes)
        } catch {
            throw RequestBodyLimit.tooLarge()
        }
        let data = bytes.readBytes(length: bytes.readableBytes) ?? []
        guard !data.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) else {
            fields = [:]
            return
        }
        let value: Value
        do {
            value = try Value(json: data)
        } catch {
            throw APIError.badBody(
                "invalid JSON: \(error.message)", path: "$", ["line": .int(Int64(error.line)), "column": .int(Int64(error.column))])
        }
        guard case .object(let object) = value else { throw APIError.badBody("expected an object, not \(value.typeName)", path: "$") }
        if let unknown = object.keys.first(where: { !allowed.contains($0) }) {
            throw APIError.badBody("unknown field (expected one of: \(allowed.sorted().joined(separator: ", ")))", path: "$.\(unknown)")
        }
        fields = object
    }

    func string(_ key: String) throws(APIError) -> String? {
        guard let value = fields[key], !value.isNull else { return nil }
        guard case .string(let text) = value else { throw APIError.badBody("expected a string, not \(value.typeName)", path: "$.\(key)") }
        return text
    }

    func requiredString(_ key: String) throws(APIError) -> String {
        guard let text = try string(key), !text.isEmpty else { throw APIError.badBody("required", path: "$.\(key)") }
        return text
    }

    /// An object field; absent or `null` gives `fallback`.
    func object(_ key: String, default fallback: Value = .object([:])) throws(APIError) -> Value {
        guard let value = fields[key], !value.isNull else { return fallback }
        guard case .object = value else { throw APIError.badBody("expected an object, not \(value.typeName)", path: "$.\(key)") }
        return value
    }

    /// A queue priority (`low`, `normal`, `high`, or an integer in -1000...1000); absent gives 0.
    func priority(_ key: String) throws(APIError) -> Int {
        guard let value = fields[key], !value.isNull else { return 0 }
        let level: Int? =
            switch value {
            case .string(let text): Priority.levels[text]
            case .int(let number): Priority.range.contains(Int(number)) ? Int(number) : nil
            default: nil
            }
        guard let level else {
            throw APIError.badBody("expected low, normal, high or an integer in -1000...1000, not \(value.jsonString())", path: "$.\(key)")
        }
        return level
    }
}
