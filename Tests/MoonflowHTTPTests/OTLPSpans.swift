/// The spans of OTLP/HTTP protobuf export requests (`ExportTraceServiceRequest`), read with a
/// small protobuf wire-format reader: only the fields the tracing tests look at.
struct OTLPSpan: Sendable {
    enum Attribute: Sendable, Equatable {
        case string(String)
        case bool(Bool)
        case int(Int64)
        case double(Double)
        case other
    }

    var traceID: [UInt8] = []
    var spanID: [UInt8] = []
    var parentSpanID: [UInt8] = []
    var name = ""
    /// 1 internal, 2 server, 3 client (`SpanKind`).
    var kind: UInt64 = 0
    var attributes: [String: Attribute] = [:]
    /// 0 unset, 1 ok, 2 error.
    var statusCode: UInt64 = 0

    var traceHex: String { hex(traceID) }
    var spanHex: String { hex(spanID) }
    var parentHex: String { hex(parentSpanID) }

    func string(_ key: String) -> String? {
        if case .string(let text)? = attributes[key] { text } else { nil }
    }

    func int(_ key: String) -> Int64? {
        if case .int(let value)? = attributes[key] { value } else { nil }
    }

    /// The spans of one `ExportTraceServiceRequest` body.
    static func decode(_ body: [UInt8]) throws -> [OTLPSpan] {
        var spans: [OTLPSpan] = []
        // resource_spans = 1 → scope_spans = 2 → spans = 2
        for resourceSpans in try WireReader(body).fields(1) {
            for scopeSpans in try WireReader(resourceSpans).fields(2) {
                for span in try WireReader(scopeSpans).fields(2) { spans.append(try decodeSpan(span)) }
            }
        }
        return spans
    }

    private static func decodeSpan(_ bytes: [UInt8]) throws -> OTLPSpan {
        var span = OTLPSpan()
        var reader = WireReader(bytes)
        while let field = try reader.next() {
            switch (field.number, field.value) {
            case (1, .bytes(let value)): span.traceID = value
            case (2, .bytes(let value)): span.spanID = value
            case (4, .bytes(let value)): span.parentSpanID = value
            case (5, .bytes(let value)): span.name = String(decoding: value, as: UTF8.self)
            case (6, .varint(let value)): span.kind = value
            case (9, .bytes(let value)):
                let (key, attribute) = try decodeKeyValue(value)
                span.attributes[key] = attribute
            case (15, .bytes(let value)):
                var status = WireReader(value)
                while let member = try status.next() {
                    if member.number == 3, case .varint(let code) = member.value { span.statusCode = code }
                }
            default: break
            }
        }
        return span
    }

    private static func decodeKeyValue(_ bytes: [UInt8]) throws -> (String, Attribute) {
        var key = ""
        var attribute = Attribute.other
        var reader = WireReader(bytes)
        while let field = try reader.next() {
            switch (field.number, field.value) {
            case (1, .bytes(let value)): key = String(decoding: value, as: UTF8.self)
            case (2, .bytes(let value)):
                var any = WireReader(value)
                while let member = try any.next() {
                    switch (member.number, member.value) {
                    case (1, .bytes(let text)): attribute = .string(String(decoding: text, as: UTF8.self))
                    case (2, .varint(let flag)): attribute = .bool(flag != 0)
                    case (3, .varint(let number)): attribute = .int(Int64(bitPattern: number))
                    case (4, .fixed64(let bits)): attribute = .double(Double(bitPattern: bits))
                    default: attribute = .other
                    }
                }
            default: break
            }
        }
        return (key, attribute)
    }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}

struct WireError: Error, CustomStringConvertible {
    var description: String
}

/// Protocol buffers' wire format: a field is a varint key (number << 3 | wire type), then its value.
struct WireReader {
    enum Value {
        case varint(UInt64)
        case fixed64(UInt64)
        case bytes([UInt8])
        case fixed32(UInt32)
    }

    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The length-delimited values of every field `number`.
    func fields(_ number: UInt64) throws -> [[UInt8]] {
        var reader = self
        var out: [[UInt8]] = []
        while let field = try reader.next() {
            if field.number == number, case .bytes(let value) = field.value { out.append(value) }
        }
        return out
    }

    mutating func next() throws -> (number: UInt64, value: Value)? {
        guard index < bytes.count else { return nil }
        let key = try varint()
        let number = key >> 3
        switch key & 7 {
        case 0: return (number, .varint(try varint()))
        case 1: return (number, .fixed64(try little(8)))
        case 2:
            let length = Int(try varint())
            guard length >= 0, index + length <= bytes.count else { throw WireError(description: "a length past the end") }
            defer { index += length }
            return (number, .bytes(Array(bytes[index..<index + length])))
        case 5: return (number, .fixed32(UInt32(try little(4))))
        default: throw WireError(description: "wire type \(key & 7) at \(index)")
        }
    }

    private mutating func varint() throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
            guard shift < 64 else { break }
        }
        throw WireError(description: "a varint past the end")
    }

    private mutating func little(_ count: Int) throws -> UInt64 {
        guard index + count <= bytes.count else { throw WireError(description: "a fixed value past the end") }
        var value: UInt64 = 0
        for offset in 0..<count { value |= UInt64(bytes[index + offset]) << (8 * UInt64(offset)) }
        index += count
        return value
    }
}
