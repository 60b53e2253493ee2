import MoonflowModel
import MoonflowYAML
import Testing

/// YAML 1.2 core typing as Moonflow enforces it, and the core tags.
@Suite struct YAMLTypingTests {
    @Test(arguments: [
        // booleans: only true/false, in any case form
        ("true", Value.bool(true)), ("True", .bool(true)), ("TRUE", .bool(true)), ("false", .bool(false)), ("FALSE", .bool(false)),
        // YAML 1.1 booleans stay strings (`country: NO`)
        ("yes", .string("yes")), ("no", .string("no")), ("NO", .string("NO")), ("on", .string("on")), ("off", .string("off")),
        ("y", .string("y")), ("On", .string("On")),
        // null
        ("~", .null), ("null", .null), ("Null", .null), ("NULL", .null), ("", .null), ("nil", .string("nil")),
        // integers
        ("0", .int(0)), ("12", .int(12)), ("-7", .int(-7)), ("+7", .int(7)), ("0x1F", .int(31)), ("0o17", .int(15)),
        ("9223372036854775807", .int(Int64.max)),
        // ambiguous or YAML 1.1 forms stay strings
        ("012", .string("012")), ("-012", .string("-012")), ("0b101", .string("0b101")), ("1_000", .string("1_000")),
        ("1:30", .string("1:30")), ("0x", .string("0x")), ("0x-1", .string("0x-1")), ("0o8", .string("0o8")),
        ("9223372036854775808", .string("9223372036854775808")),
        // floats
        ("1.5", .double(1.5)), ("-0.25", .double(-0.25)), (".5", .double(0.5)), ("1e3", .double(1000)), ("6.02E+23", .double(6.02e23)),
        ("1.10", .double(1.1)), ("0.0", .double(0)),
        // non-finite and odd floats stay strings: Value holds only finite numbers
        (".inf", .string(".inf")), ("-.inf", .string("-.inf")), (".nan", .string(".nan")), ("1e400", .string("1e400")),
        ("1.2.3", .string("1.2.3")), ("1e", .string("1e")), (".", .string(".")), ("-1-", .string("-1-")),
        // timestamps are not typed
        ("2024-01-02", .string("2024-01-02")),
    ])
    func plainScalars(text: String, expected: Value) throws {
        #expect(try value("v: \(text)\n")["v"] == expected)
    }

    @Test(arguments: ["'true'", "\"12\"", "'~'", "\"\"", "'1.10'", "\"NO\""])
    func quotedScalarsAreStrings(text: String) throws {
        let unquoted = String(text.dropFirst().dropLast())
        #expect(try value("v: \(text)\n")["v"] == .string(unquoted))
    }

    @Test func blockScalarsAreStrings() throws {
        #expect(try value("a: |\n  12\nb: >-\n  true\n") == ["a": "12\n", "b": "true"])
    }

    @Test func versionReadAsTextKeepsItsDigits() throws {
        // The loader reads a string field from the scalar's text, so 1.10 is not 1.1.
        let root = try parse("version: 1.10\n")
        #expect(root.mapping?[0].value.scalar == YAMLScalar("1.10"))
        #expect(root.mapping?[0].value.resolvedScalar == .double(1.1))
    }

    @Test func keysBecomeStringsAsWritten() throws {
        #expect(try value("1: a\ntrue: b\n~: c\n0x10: d\n") == ["1": "a", "true": "b", "~": "c", "0x10": "d"])
    }

    @Test(arguments: [
        ("!!str 12", Value.string("12")), ("!!str true", .string("true")), ("!!str", .string("")),
        ("!!int \"12\"", .int(12)), ("!!int '0x1F'", .int(31)), ("!!int -3", .int(-3)),
        ("!!float 1", .double(1)), ("!!float '2.5'", .double(2.5)),
        ("!!bool 'True'", .bool(true)), ("!!bool false", .bool(false)),
        ("!!null ''", .null), ("!!null ~", .null),
        ("! 12", .string("12")),
        // other tags are kept on the node; the scalar reads as its text
        ("!env HOME", .string("HOME")), ("!!timestamp 2024-01-02", .string("2024-01-02")), ("!custom 12", .string("12")),
    ])
    func coreTagsDecideTheType(text: String, expected: Value) throws {
        #expect(try value("v: \(text)\n")["v"] == expected)
    }

    @Test func unknownTagsStayOnTheNode() throws {
        let root = try parse("a: !env HOME\nb: !!binary aGk=\nc: !!set {x: null}\n")
        #expect(root.mapping?.map(\.value.tag) == ["!env", "tag:yaml.org,2002:binary", "tag:yaml.org,2002:set"])
        #expect(try root.toValue() == ["a": "HOME", "b": "aGk=", "c": ["x": nil]])
    }

    @Test func tagHandlesAreResolvedByLibYAML() throws {
        let root = try parse("%TAG !e! tag:example.com,2024:\n---\na: !e!thing x\n")
        #expect(root.mapping?[0].value.tag == "tag:example.com,2024:thing")
    }

    @Test(arguments: [
        ("!!int abc", "`!!int` needs a 64-bit integer such as 12, -3, 0x1F or 0o17 (no leading zeros or `_`), not 'abc'"),
        ("!!int 012", "`!!int` needs a 64-bit integer such as 12, -3, 0x1F or 0o17 (no leading zeros or `_`), not '012'"),
        ("!!int 1.5", "`!!int` needs a 64-bit integer such as 12, -3, 0x1F or 0o17 (no leading zeros or `_`), not '1.5'"),
        ("!!float x", "`!!float` needs a number such as 1.5, -2 or 6.02e23, not 'x'"),
        ("!!float .inf", "`!!float` needs a finite number (Moonflow values cannot be infinite or NaN), not '.inf'"),
        ("!!float -.Inf", "`!!float` needs a finite number (Moonflow values cannot be infinite or NaN), not '-.Inf'"),
        ("!!float .NaN", "`!!float` needs a finite number (Moonflow values cannot be infinite or NaN), not '.NaN'"),
        ("!!bool yes", "`!!bool` needs true or false (yes/no/on/off are not booleans in YAML 1.2), not 'yes'"),
        ("!!null nothing", "`!!null` needs null, ~ or nothing, not 'nothing'"),
        ("!!map x", "`!!map` cannot tag a scalar ('x')"),
        ("!!seq ''", "`!!seq` cannot tag a scalar ('')"),
        ("!!int [1]", "`!!int` cannot tag a list"),
        ("!!seq {a: 1}", "`!!seq` cannot tag a mapping"),
        ("!!str {a: 1}", "`!!str` cannot tag a mapping"),
    ])
    func tagThatDoesNotFitIsAnError(text: String, message: String) {
        let found = diagnostics(Array("v: \(text)\n".utf8))
        #expect(found.map(\.description) == ["w.yaml:1:4: error[BadTaggedValue]: \(message)"])
        #expect(found.first?.hint == "fix the value, or remove the tag and let the field's type decide")
    }

    @Test func fittingCollectionTagsAreAccepted() throws {
        #expect(try value("a: !!seq [1]\nb: !!map {c: 2}\n") == ["a": [1], "b": ["c": 2]])
    }

    @Test func handBuiltNodeWithAMismatchedTagReadsAsText() {
        let node = YAMLNode(.scalar(YAMLScalar("abc")), tag: "tag:yaml.org,2002:int", location: .unknown)
        #expect(node.resolvedScalar == "abc")
    }

    @Test func complexKeysCannotBecomeData() throws {
        let root = try parse("? [a, b]\n: 1\n")
        #expect(throws: Diagnostic.self) { try root.toValue() }
        do {
            _ = try root.toValue()
        } catch {
            #expect(error.description == "w.yaml:1:3: error[ComplexKey]: mapping keys must be plain text, not a list")
        }
    }
}
