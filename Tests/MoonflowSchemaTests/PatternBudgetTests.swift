import Foundation
import MoonflowModel
import Testing

@testable import MoonflowSchema

/// Security issue 12, item 8: a `pattern` runs on caller input, so one validation may spend only
/// a bounded time in regexes; past it the value is invalid, naming the field, whatever the
/// combinators around the pattern say.
@Suite struct PatternBudgetTests {
    static let evil = String(repeating: "a", count: 32) + "!"

    func timed<T>(_ body: () throws -> T) rethrows -> (T, Duration) {
        let start = ContinuousClock.now
        let value = try body()
        return (value, ContinuousClock.now - start)
    }

    @Test func catastrophicBacktrackingStopsAtTheBudgetNamingTheField() throws {
        let schema = try JSONSchema(["type": "object", "properties": ["name": ["type": "string", "pattern": "^(a+)+$"]]])
        let (errors, elapsed) = timed { schema.validate(["name": .string(Self.evil)]) }
        #expect(elapsed < .milliseconds(500), "took \(elapsed)")
        #expect(errors.count == 1)
        #expect(errors.first?.instancePath == "/name")
        #expect(errors.first?.schemaPath == "/properties/name/pattern")
        #expect(errors.first?.message.contains("too long") == true)
        #expect(!schema.isValid(["name": .string(Self.evil)]))
    }

    @Test func anExhaustedBudgetCannotBeTurnedIntoSuccess() throws {
        // `not` would read a pattern that gave up as "did not match" and accept the value.
        for text in [#"{"not": {"pattern": "^(a+)+$"}}"#, #"{"anyOf": [{"pattern": "^(a+)+$"}, {"not": {"pattern": "^(a+)+$"}}]}"#] {
            let schema = try JSONSchema(try Value(json: text))
            let (valid, elapsed) = timed { schema.isValid(.string(Self.evil)) }
            #expect(!valid, "\(text)")
            #expect(elapsed < .milliseconds(500), "took \(elapsed)")
            #expect(schema.validate(.string(Self.evil)).first?.message.contains("too long") == true)
        }
    }

    @Test func theBudgetIsSharedByEveryPatternOfOneValidation() throws {
        // 20 strings each worth a whole budget must not add up to 20 budgets.
        let schema = try JSONSchema(["type": "array", "items": ["pattern": "^(a+)+$"]])
        let items = Value.array(Array(repeating: .string(Self.evil), count: 20))
        let (errors, elapsed) = timed { schema.validate(items) }
        #expect(elapsed < .milliseconds(500), "took \(elapsed)")
        #expect(errors.first?.instancePath == "/0")
        let (_, keys) = timed {
            try? JSONSchema(["patternProperties": ["^(a+)+$": true], "additionalProperties": false])
                .validate(.object(.init(uniqueKeysWithValues: (0..<20).map { ("\($0)" + Self.evil, Value.bool(true)) })))
        }
        #expect(keys < .milliseconds(500), "took \(keys)")
    }

    @Test func ordinaryPatternsOnLargeInputsStayWithinTheBudget() throws {
        let big = String(repeating: "abc-", count: 50_000) + "x"
        #expect(try JSONSchema(["pattern": "^([a-z]+-)*[a-z]+$"]).validate(.string(big)).isEmpty)
        #expect(try JSONSchema(["pattern": "[0-9]{3}"]).validate(.string(String(repeating: "a", count: 100_000) + "123")).isEmpty)
    }
}

/// The shape the loader refuses at load: a repeated group whose body is a repetition.
@Suite struct PatternShapeTests {
    @Test(arguments: [
        ("^(a+)+$", "(a+)+"), (#"^(\w+\s?)*$"#, #"(\w+\s?)*"#), ("(?:x*)*", "(?:x*)*"), ("^((ab)+)+$", "((ab)+)+"),
        ("^(x|(a+)+)$", "(a+)+"), ("^([a-z]+\\.?)+$", "([a-z]+\\.?)+"),
    ])
    func nestedRepetitionsAreFound(_ pattern: String, _ nested: String) {
        #expect(PatternShape.nestedRepetition(in: pattern) == nested)
    }

    @Test(arguments: [
        "^ORD-[0-9]+$", "^([a-z]+-)*[a-z]+$", #"^(\d+,)*\d+$"#, "^(a|a)+$", "^[a-z][a-z0-9_.-]*$", "(a{2})+", "^(a?)+$",
        "^([0-9]+(ms|s|m|h|d)|P(?=[0-9T])([0-9]+D)?(T(?=[0-9])([0-9]+H)?([0-9]+M)?([0-9]+(\\.[0-9]+)?S)?)?)$", "[(+]", "(",
    ])
    func ordinaryPatternsPass(_ pattern: String) {
        #expect(PatternShape.nestedRepetition(in: pattern) == nil)
    }
}
