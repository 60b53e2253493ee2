package import MoonflowModel
import OrderedCollections

extension YAMLNode {
    /// The full form of a tag of the YAML core schema: `coreTag("int")` is `tag:yaml.org,2002:int`.
    static func coreTag(_ name: String) -> String { "tag:yaml.org,2002:" + name }

    /// The tags Moonflow interprets; any other tag is kept on the node for its reader to judge.
    static let coreTagNames: Set<String> = Set(["str", "int", "float", "bool", "null", "map", "seq"].map(coreTag))

    /// A tag as people write it: `tag:yaml.org,2002:int` is `!!int`.
    static func shortTag(_ tag: String) -> String {
        tag.hasPrefix(coreTag("")) ? "!!" + tag.dropFirst(coreTag("").count) : tag
    }

    /// The scalar typed by the YAML 1.2 core schema, as Moonflow enforces it (docs/workflow-format.md):
    /// only plain untagged scalars are typed by their text; `true`/`false` in any case form are
    /// booleans (`yes`, `on`, `NO` stay strings); `~`, `null`, empty are null; decimal integers
    /// without leading zeros, `0x`/`0o` integers and finite decimal floats are numbers; anything
    /// else (`012`, `1_000`, `1:30`, `.inf`, `.nan`) is a string. Quoted and block scalars are strings.
    /// Core tags decide the type (`!!int "12"` is 12, `!!str 12` is "12"); a scalar with another
    /// tag is its text. `nil` for non-scalars.
    package var resolvedScalar: Value? {
        guard case .scalar(let scalar) = content else { return nil }
        switch Self.resolve(scalar, tag: tag) {
        case .success(let value): return value
        // The composer reports mismatches; a hand-built node with one reads as its text.
        case .failure: return .string(scalar.text)
        }
    }

    /// Why a scalar's text does not fit its core tag.
    struct TagMismatch: Error {
        var message: String
    }

    /// The value of a scalar under its tag, or why it does not fit the tag.
    static func resolve(_ scalar: YAMLScalar, tag: String?) -> Result<Value, TagMismatch> {
        let text = scalar.text
        func mismatch(_ needs: String) -> Result<Value, TagMismatch> {
            .failure(TagMismatch(message: "`\(shortTag(tag ?? ""))` needs \(needs), not '\(text)'"))
        }
        switch tag {
        case nil: return .success(scalar.style == .plain ? resolvePlain(text) : .string(text))
        case "!", coreTag("str"): return .success(.string(text))
        case coreTag("int"):
            if case .int(let i)? = resolveNumber(text) { return .success(.int(i)) }
            return mismatch("a 64-bit integer such as 12, -3, 0x1F or 0o17 (no leading zeros or `_`)")
        case coreTag("float"):
            switch resolveNumber(text) {
            case .int(let i)?: return .success(.double(Double(i)))
            case .double(let d)?: return .success(.double(d))
            default:
                if [".inf", "+.inf", "-.inf", ".nan"].contains(text.lowercased()) {
                    return mismatch("a finite number (Moonflow values cannot be infinite or NaN)")
                }
                return mismatch("a number such as 1.5, -2 or 6.02e23")
            }
        case coreTag("bool"):
            switch text.lowercased() {
            case "true": return .success(.bool(true))
            case "false": return .success(.bool(false))
            default: return mismatch("true or false (yes/no/on/off are not booleans in YAML 1.2)")
            }
        case coreTag("null"):
            if case .null = resolvePlain(text) { return .success(.null) }
            return mismatch("null, ~ or nothing")
        case coreTag("map"), coreTag("seq"):
            return .failure(TagMismatch(message: "`\(shortTag(tag ?? ""))` cannot tag a scalar ('\(text)')"))
        default: return .success(.string(text))
        }
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
        for (prefix, radix) in [("0x", 16), ("0o", 8)] where text.hasPrefix(prefix) {
            let digits = text.dropFirst(2)
            // `Int64(_:radix:)` would also take a sign: `0x-1` must stay text.
            guard digits.allSatisfy({ $0.isHexDigit }), let i = Int64(digits, radix: radix) else { return nil }
            return .int(i)
        }
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
    package func toValue() throws(Diagnostic) -> Value {
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
