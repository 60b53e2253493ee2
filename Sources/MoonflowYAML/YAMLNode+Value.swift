import MoonflowModel
import OrderedCollections

extension YAMLNode {
    static let strTag = "tag:yaml.org,2002:str"

    /// The scalar typed by the YAML 1.2 core schema, as Moonflow enforces it (SPEC §8):
    /// only plain scalars are typed; `true`/`false` in any case form are booleans (`yes`, `on`, `NO`
    /// stay strings); `~`, `null`, empty are null; decimal integers without leading zeros, `0x`/`0o`
    /// integers and decimal floats are numbers; anything else (`012`, `1_000`, `1:30`, `.inf`) is a string.
    /// `nil` for non-scalars.
    public var resolvedScalar: Value? {
        guard case .scalar(let scalar) = content else { return nil }
        if tag == Self.strTag || scalar.style != .plain { return .string(scalar.text) }
        return Self.resolvePlain(scalar.text)
    }

    static func resolvePlain(_ text: String) -> Value {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        default: break
        }
        switch text.lowercased() {
        case "true": return .bool(true)
        case "false": return .bool(false)
        default: break
        }
        if let number = resolveNumber(text) { return number }
        return .string(text)
    }

    /// A number in the strict form Moonflow accepts, or `nil`.
    static func resolveNumber(_ text: String) -> Value? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return nil }
        if text.hasPrefix("0x"), bytes.count > 2, let i = Int64(text.dropFirst(2), radix: 16) { return .int(i) }
        if text.hasPrefix("0o"), bytes.count > 2, let i = Int64(text.dropFirst(2), radix: 8) { return .int(i) }
        var index = 0
        if bytes[0] == UInt8(ascii: "-") || bytes[0] == UInt8(ascii: "+") { index = 1 }
        let digitsStart = index
        func isDigit(_ i: Int) -> Bool { i < bytes.count && bytes[i] >= 0x30 && bytes[i] <= 0x39 }
        while isDigit(index) { index += 1 }
        let intDigits = index - digitsStart
        var isInteger = true
        var fractionDigits = 0
        if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            let fractionStart = index
            while isDigit(index) { index += 1 }
            fractionDigits = index - fractionStart
        }
        guard intDigits + fractionDigits > 0 else { return nil }
        if index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
            isInteger = false
            index += 1
            if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) { index += 1 }
            guard isDigit(index) else { return nil }
            while isDigit(index) { index += 1 }
        }
        guard index == bytes.count else { return nil }
        // Leading zeros are ambiguous (YAML 1.1 octal): keep them as text.
        if intDigits > 1 && bytes[digitsStart] == UInt8(ascii: "0") { return nil }
        if isInteger {
            return Int64(text.hasPrefix("+") ? String(text.dropFirst()) : text).map(Value.int)
        }
        guard let d = Double(text), d.isFinite else { return nil }
        return .double(d)
    }

    /// Converts a data subtree (context defaults, `with:` literals, inline schemas) to a `Value`.
    /// Mapping keys must be scalars; they become strings as written.
    public func toValue() throws(Diagnostic) -> Value {
        switch content {
        case .scalar: return resolvedScalar!
        case .sequence(let items):
            var out: [Value] = []
            out.reserveCapacity(items.count)
            for item in items { out.append(try item.toValue()) }
            return .array(out)
        case .mapping(let pairs):
            var out = OrderedDictionary<String, Value>()
            for pair in pairs {
                guard let key = pair.key.scalar else {
                    throw Diagnostic(
                        .yamlComplexKey, "mapping keys must be plain text, not \(pair.key.kindDescription)",
                        at: pair.key.location)
                }
                out[key.text] = try pair.value.toValue()
            }
            return .object(out)
        }
    }
}
