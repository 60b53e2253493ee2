import MoonflowModel
import Testing

@Suite struct ValueJSONTests {
    @Test func integersAndFloatsStayDistinct() throws {
        let v = try Value(json: #"{"a": 1, "b": 1.0, "c": 1e2, "d": -0, "e": 9223372036854775807}"#)
        #expect(v["a"] == .int(1))
        #expect(v["b"] == .double(1))
        #expect(v["c"] == .double(100))
        #expect(v["d"] == .int(0))
        #expect(v["e"] == .int(Int64.max))
        #expect(v.jsonString() == #"{"a":1,"b":1.0,"c":100.0,"d":0,"e":9223372036854775807}"#)
    }

    @Test func keyOrderIsKeptButNotPartOfEquality() throws {
        let a = try Value(json: #"{"z": 1, "a": 2}"#)
        let b = try Value(json: #"{"a": 2, "z": 1}"#)
        #expect(a.jsonString() == #"{"z":1,"a":2}"#)
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
    }

    @Test func stringsRoundTripEscapesAndSurrogates() throws {
        let v = try Value(json: #"["a\"b\\c\n\u00e9\ud83d\ude00\u0001"]"#)
        #expect(v == .array([.string("a\"b\\c\né😀\u{01}")]))
        #expect(v.jsonString() == #"["a\"b\\c\né😀\u0001"]"#)
    }

    @Test(arguments: [
        ("", 1, 1, "expected a JSON value, found the end of the input"),
        ("{\"a\": 1,}", 1, 9, "expected a string key, found '}'"),
        ("[1 2]", 1, 4, "expected ',' or ']' in an array, found '2'"),
        ("{\"a\":1,\n \"a\":2}", 2, 2, "duplicate key 'a'"),
        ("012", 1, 1, "numbers cannot have leading zeros"),
        ("\"\\ud800\"", 1, 8, "unpaired surrogate in \\u escape"),
        ("[1] x", 1, 5, "unexpected 'x' after the JSON value"),
        ("1e999", 1, 1, "number out of range"),
        ("tru", 1, 1, "invalid literal, expected 'true'"),
    ])
    func malformedJSONNamesLineAndColumn(text: String, line: Int, column: Int, message: String) {
        #expect(throws: JSONParseError(message: message, line: line, column: column, offset: offsetOf(text, line, column))) {
            try Value(json: text)
        }
    }

    @Test func depthIsLimited() {
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(throws: JSONParseError.self) { try Value(json: deep) }
        #expect((try? Value(json: deep, maxDepth: 1000)) != nil)
    }

    private func offsetOf(_ text: String, _ line: Int, _ column: Int) -> Int {
        var offset = 0
        var current = 1
        for byte in text.utf8 where current < line {
            offset += 1
            if byte == UInt8(ascii: "\n") { current += 1 }
        }
        return offset + column - 1
    }
}
