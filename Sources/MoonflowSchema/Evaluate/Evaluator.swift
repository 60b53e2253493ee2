import MoonflowModel
import OrderedCollections

/// One validation of one instance against a `SchemaProgram`.
///
/// In the fast mode (`isValid`) nothing is recorded and every schema stops at its first failing
/// keyword. In the reporting mode paths are tracked and every failure becomes a `SchemaError`,
/// up to `maxErrors`. Subschemas whose failures are not the instance's fault (`not`, `if`,
/// `contains`, the branches of `anyOf`/`oneOf`) are evaluated silently or with their errors
/// captured and summarised.
struct Evaluator {
    let program: SchemaProgram
    let track: Bool
    let maxErrors: Int
    let maxDepth: Int
    private let annotate: Bool
    private var reporting: Bool
    private(set) var errors: [SchemaError] = []
    private var instancePath: [String] = []
    private var schemaPath: [String] = []
    /// The dynamic scope: schema resources entered, outermost first.
    private var scope: [Int] = []
    private var depth = 0
    /// Time left for regexes in this validation (docs/json-schema.md).
    private var regexBudget: RegexBudget
    private let patternTimeLimit: Duration
    /// Set when a pattern ran out of time: the instance is then invalid, whatever `not`, `anyOf`
    /// or `if` around the pattern would make of a failure, so the error is kept apart from them.
    private(set) var budgetError: SchemaError?

    init(program: SchemaProgram, reporting: Bool, maxErrors: Int, maxDepth: Int, patternTimeLimit: Duration = .milliseconds(25)) {
        self.program = program
        self.regexBudget = RegexBudget(patternTimeLimit)
        self.patternTimeLimit = patternTimeLimit
        self.track = reporting
        self.reporting = reporting
        self.maxErrors = maxErrors
        self.maxDepth = maxDepth
        self.annotate = program.collectsAnnotations
    }

    mutating func run(_ instance: Value) -> Bool {
        var annotations = Annotations()
        let valid = evaluate(program.root, instance, &annotations)
        return valid && budgetError == nil
    }

    /// Matches a regex within the budget; `nil` (and `budgetError` set) when the time ran out.
    private mutating func match(_ pattern: Pattern, _ text: String, at name: String? = nil) -> Bool? {
        if let result = pattern.matches(text, budget: &regexBudget) { return result }
        if budgetError == nil {
            let limit = Int((patternTimeLimit / .milliseconds(1)).rounded())
            var path = instancePath
            if let name { path.append(name) }
            budgetError = SchemaError(
                instancePath: JSONPointer.string(path), schemaPath: JSONPointer.string(schemaPath),
                message: "took too long to check against the pattern \(pattern.source) (the limit is \(limit) ms of regex matching per validation)")
        }
        return nil
    }

    /// Whether to stop at the first failing keyword.
    private var stopsEarly: Bool { !reporting || errors.count >= maxErrors }

    private mutating func fail(_ message: @autoclosure () -> String) {
        guard reporting, errors.count < maxErrors else { return }
        errors.append(
            SchemaError(
                instancePath: JSONPointer.string(instancePath), schemaPath: JSONPointer.string(schemaPath), message: message()))
    }

    // MARK: Nodes

    /// Evaluates node `index` against `instance`; on success its annotations are merged into `out`.
    mutating func evaluate(_ index: Int, _ instance: Value, _ out: inout Annotations) -> Bool {
        let node = program.nodes[index]
        let keywords: [Keyword]
        switch node.body {
        case .boolean(let b):
            if !b { fail("is not allowed") }
            return b
        case .keywords(let list):
            keywords = list
        }
        guard depth < maxDepth else {
            let limit = maxDepth
            fail("is nested too deeply: schema evaluation stops at depth \(limit)")
            return false
        }
        depth += 1
        let entered = scope.last != node.resource
        if entered { scope.append(node.resource) }
        defer {
            depth -= 1
            if entered { scope.removeLast() }
        }
        var local = Annotations()
        var valid = true
        for keyword in keywords {
            let name = keyword.name
            if track, let name { schemaPath.append(name) }
            let ok = apply(keyword, instance, &local)
            if track, name != nil { schemaPath.removeLast() }
            if !ok {
                valid = false
                if stopsEarly { break }
            }
        }
        if valid && annotate { out.merge(local) }
        return valid
    }

    /// Evaluates a node at a child of the instance (`token` appended to the instance path);
    /// its annotations concern the child and are dropped.
    private mutating func evaluate(_ index: Int, child instance: Value, at token: String, schema tokens: String...) -> Bool {
        if track {
            instancePath.append(token)
            schemaPath.append(contentsOf: tokens)
        }
        var ignored = Annotations()
        let ok = evaluate(index, instance, &ignored)
        if track {
            instancePath.removeLast()
            schemaPath.removeLast(tokens.count)
        }
        return ok
    }

    /// Evaluates a node in place (same instance), under extra schema path tokens.
    private mutating func evaluate(_ index: Int, _ instance: Value, _ out: inout Annotations, schema tokens: String...) -> Bool {
        if track { schemaPath.append(contentsOf: tokens) }
        let ok = evaluate(index, instance, &out)
        if track { schemaPath.removeLast(tokens.count) }
        return ok
    }

    /// Evaluates without recording anything.
    private mutating func silently(_ index: Int, _ instance: Value, _ out: inout Annotations) -> Bool {
        let saved = reporting
        reporting = false
        defer { reporting = saved }
        return evaluate(index, instance, &out)
    }

    // MARK: Keywords

    private mutating func apply(_ keyword: Keyword, _ instance: Value, _ local: inout Annotations) -> Bool {
        switch keyword {
        case .type, .enumeration, .constant, .bound, .multipleOf, .minLength, .maxLength, .pattern, .format:
            return applyScalar(keyword, instance)
        case .prefixItems, .items, .contains, .minItems, .maxItems, .uniqueItems, .unevaluatedItems:
            guard case .array(let items) = instance else { return true }
            return applyArray(keyword, items, &local)
        case .properties, .patternProperties, .additionalProperties, .propertyNames, .minProperties, .maxProperties,
            .required, .dependentRequired, .unevaluatedProperties:
            guard case .object(let members) = instance else { return true }
            return applyObject(keyword, members, &local)
        case .dependentSchemas, .allOf, .anyOf, .oneOf, .not, .conditional, .ref, .dynamicRef:
            return applyInPlace(keyword, instance, &local)
        }
    }

    private mutating func applyScalar(_ keyword: Keyword, _ instance: Value) -> Bool {
        switch keyword {
        case .type(let types):
            guard types.admits(instance) else {
                fail("must be \(types.description), got \(instance.typeName)")
                return false
            }
        case .enumeration(let values):
            guard values.contains(where: { jsonEqual($0, instance) }) else {
                fail("must be one of \(Message.list(values))")
                return false
            }
        case .constant(let value):
            guard jsonEqual(value, instance) else {
                fail("must be \(Message.short(value))")
                return false
            }
        case .bound(let bound, let limit):
            guard let n = JSONNumber(instance) else { return true }
            guard bound.admits(n.compare(limit)) else {
                fail("must be \(bound.symbol) \(limit)")
                return false
            }
        case .multipleOf(let divisor, let shown):
            guard let n = JSONNumber(instance) else { return true }
            guard n.isMultiple(of: divisor) else {
                fail("must be a multiple of \(shown)")
                return false
            }
        case .minLength(let limit):
            guard case .string(let s) = instance else { return true }
            guard s.unicodeScalars.count >= limit else {
                fail("must be at least \(Message.count(limit, "character")) long")
                return false
            }
        case .maxLength(let limit):
            guard case .string(let s) = instance else { return true }
            guard s.utf8.count <= limit || s.unicodeScalars.count <= limit else {
                fail("must be at most \(Message.count(limit, "character")) long")
                return false
            }
        case .pattern(let pattern):
            guard case .string(let s) = instance else { return true }
            guard let matched = match(pattern, s) else { return false }
            guard matched else {
                fail("must match the pattern \(pattern.source)")
                return false
            }
        case .format(let format):
            guard case .string(let s) = instance else { return true }
            guard format.accepts(s) else {
                fail("must be a valid \(format.rawValue)")
                return false
            }
        default:
            preconditionFailure("not a scalar keyword")
        }
        return true
    }

    private mutating func applyArray(_ keyword: Keyword, _ items: [Value], _ local: inout Annotations) -> Bool {
        var valid = true
        switch keyword {
        case .prefixItems(let schemas):
            for (i, (schema, item)) in zip(schemas, items).enumerated() {
                guard evaluate(schema, child: item, at: String(i), schema: String(i)) else {
                    valid = false
                    if stopsEarly { return false }
                    continue
                }
            }
            if annotate { local.itemPrefix = max(local.itemPrefix, min(schemas.count, items.count)) }
        case .items(let schema, let prefixCount):
            for i in min(prefixCount, items.count)..<items.count where !evaluate(schema, child: items[i], at: String(i)) {
                valid = false
                if stopsEarly { return false }
            }
            if annotate { local.allItems = true }
        case .contains(let schema, let minimum, let minGiven, let maximum):
            // In a function of its own: the frame of this one is paid at every level of a deep instance.
            valid = applyContains(schema, minimum, minGiven, maximum, items, &local)
        case .minItems(let limit):
            if items.count < limit {
                fail("must have at least \(Message.count(limit, "item"))")
                valid = false
            }
        case .maxItems(let limit):
            if items.count > limit {
                fail("must have at most \(Message.count(limit, "item"))")
                valid = false
            }
        case .uniqueItems:
            if let (first, second) = firstDuplicate(in: items) {
                fail("must not contain duplicates (items \(first) and \(second) are equal)")
                valid = false
            }
        case .unevaluatedItems(let schema):
            for i in items.indices where !local.evaluated(item: i) && !evaluate(schema, child: items[i], at: String(i)) {
                valid = false
                if stopsEarly { return false }
            }
            if annotate { local.allItems = true }
        default:
            preconditionFailure("not an array keyword")
        }
        return valid
    }

    private mutating func applyContains(_ schema: Int, _ minimum: Int, _ minGiven: Bool, _ maximum: Int?, _ items: [Value], _ local: inout Annotations) -> Bool {
        var valid = true
        var matches = 0
        for (i, item) in items.enumerated() {
            var ignored = Annotations()
            guard silently(schema, item, &ignored) else { continue }
            matches += 1
            if annotate { local.items.insert(i) } else if maximum == nil && matches >= minimum { break }
        }
        if matches < minimum {
            if track { schemaPath.append(minGiven ? "minContains" : "contains") }
            fail("must contain at least \(Message.count(minimum, "item")) matching the contains schema (found \(matches))")
            if track { schemaPath.removeLast() }
            valid = false
        }
        if let maximum, matches > maximum {
            if track { schemaPath.append("maxContains") }
            fail("must contain at most \(Message.count(maximum, "item")) matching the contains schema (found \(matches))")
            if track { schemaPath.removeLast() }
            valid = false
        }
        return valid
    }

    private mutating func applyObject(
        _ keyword: Keyword, _ members: OrderedDictionary<String, Value>, _ local: inout Annotations
    ) -> Bool {
        var valid = true
        switch keyword {
        case .properties(let list):
            for (name, schema) in list {
                guard let member = members[name] else { continue }
                if annotate { local.properties.insert(name) }
                if !evaluate(schema, child: member, at: name, schema: name) {
                    valid = false
                    if stopsEarly { return false }
                }
            }
        case .patternProperties(let list):
            for (name, member) in members {
                for (pattern, schema) in list {
                    guard let matched = match(pattern, name, at: name) else { return false }
                    guard matched else { continue }
                    if annotate { local.properties.insert(name) }
                    if !evaluate(schema, child: member, at: name, schema: pattern.source) {
                        valid = false
                        if stopsEarly { return false }
                    }
                }
            }
        case .additionalProperties(let schema, let known, let patterns):
            for (name, member) in members where !known.contains(name) {
                var matchesAPattern = false
                for pattern in patterns {
                    guard let matched = match(pattern, name, at: name) else { return false }
                    if matched {
                        matchesAPattern = true
                        break
                    }
                }
                if matchesAPattern { continue }
                if !additional(schema, member, name) {
                    valid = false
                    if stopsEarly { return false }
                }
            }
            if annotate { local.allProperties = true }
        case .unevaluatedProperties(let schema):
            for (name, member) in members where !local.evaluated(property: name) {
                if !additional(schema, member, name) {
                    valid = false
                    if stopsEarly { return false }
                }
            }
            if annotate { local.allProperties = true }
        case .propertyNames(let schema):
            for name in members.keys {
                let first = errors.count
                if !evaluate(schema, child: .string(name), at: name) {
                    valid = false
                    for i in first..<errors.count { errors[i].message = "property name " + errors[i].message }
                    if stopsEarly { return false }
                }
            }
        case .minProperties(let limit):
            if members.count < limit {
                fail("must have at least \(Message.count(limit, "property", "properties"))")
                valid = false
            }
        case .maxProperties(let limit):
            if members.count > limit {
                fail("must have at most \(Message.count(limit, "property", "properties"))")
                valid = false
            }
        case .required(let names):
            for name in names where members[name] == nil {
                fail("missing required property '\(name)'")
                valid = false
                if stopsEarly { return false }
            }
        case .dependentRequired(let list):
            for (name, required) in list where members[name] != nil {
                for other in required where members[other] == nil {
                    if track { schemaPath.append(name) }
                    fail("missing property '\(other)', required when '\(name)' is present")
                    if track { schemaPath.removeLast() }
                    valid = false
                    if stopsEarly { return false }
                }
            }
        default:
            preconditionFailure("not an object keyword")
        }
        return valid
    }

    /// A property left to `additionalProperties` / `unevaluatedProperties`: `false` reads as "unknown property".
    private mutating func additional(_ schema: Int, _ member: Value, _ name: String) -> Bool {
        if case .boolean(false) = program.nodes[schema].body {
            if track { instancePath.append(name) }
            fail("unknown property")
            if track { instancePath.removeLast() }
            return false
        }
        return evaluate(schema, child: member, at: name)
    }

    private mutating func applyInPlace(_ keyword: Keyword, _ instance: Value, _ local: inout Annotations) -> Bool {
        switch keyword {
        case .ref(let target):
            return evaluate(target, instance, &local)
        case .dynamicRef(let target, let anchor):
            var resolved = target
            if let anchor {
                for resource in scope {
                    if let outermost = program.dynamicAnchors[resource][anchor] {
                        resolved = outermost
                        break
                    }
                }
            }
            return evaluate(resolved, instance, &local)
        case .allOf(let schemas):
            var valid = true
            for (i, schema) in schemas.enumerated() where !evaluate(schema, instance, &local, schema: String(i)) {
                valid = false
                if stopsEarly { return false }
            }
            return valid
        case .dependentSchemas(let list):
            guard case .object(let members) = instance else { return true }
            var valid = true
            for (name, schema) in list where members[name] != nil && !evaluate(schema, instance, &local, schema: name) {
                valid = false
                if stopsEarly { return false }
            }
            return valid
        case .anyOf(let schemas):
            return alternatives(schemas, exactlyOne: false, instance, &local)
        case .oneOf(let schemas):
            return alternatives(schemas, exactlyOne: true, instance, &local)
        case .not(let schema):
            return applyNot(schema, instance)
        case .conditional(let condition, let then, let otherwise):
            return applyConditional(condition, then, otherwise, instance, &local)
        default:
            preconditionFailure("not an in-place applicator")
        }
    }

    // `not` and `if` in functions of their own: the frame of `applyInPlace` is paid at every
    // level of a deep instance (every `$ref`), theirs only where they are used.
    private mutating func applyNot(_ schema: Int, _ instance: Value) -> Bool {
        var ignored = Annotations()
        guard !silently(schema, instance, &ignored) else {
            fail("must not match the schema in not")
            return false
        }
        return true
    }

    private mutating func applyConditional(_ condition: Int, _ then: Int?, _ otherwise: Int?, _ instance: Value, _ local: inout Annotations) -> Bool {
        var conditionAnnotations = Annotations()
        if silently(condition, instance, &conditionAnnotations) {
            local.merge(conditionAnnotations)
            guard let then else { return true }
            return evaluate(then, instance, &local, schema: "then")
        }
        guard let otherwise else { return true }
        return evaluate(otherwise, instance, &local, schema: "else")
    }

    /// `anyOf` and `oneOf`. Branch errors are captured; when no branch matches and exactly one
    /// branch failed for a reason other than the instance's type, its errors are reported as they
    /// are (the user meant that branch), else one summary names each branch's first problem.
    private mutating func alternatives(
        _ schemas: [Int], exactlyOne: Bool, _ instance: Value, _ local: inout Annotations
    ) -> Bool {
        let keyword = exactlyOne ? "oneOf" : "anyOf"
        var passing: [Int] = []
        var chosen = Annotations()
        var captured: [[SchemaError]] = []
        for (i, schema) in schemas.enumerated() {
            let first = errors.count
            var branch = Annotations()
            let ok = evaluate(schema, instance, &branch, schema: String(i))
            if reporting {
                captured.append(Array(errors[first...]))
                errors.removeSubrange(first...)
            }
            guard ok else { continue }
            passing.append(i)
            if exactlyOne {
                if passing.count == 1 { chosen = branch } else if !reporting { break }
            } else {
                local.merge(branch)
                if !annotate { break }
            }
        }
        if passing.count == 1 || (!exactlyOne && !passing.isEmpty) {
            if exactlyOne { local.merge(chosen) }
            return true
        }
        guard reporting else { return false }
        if !passing.isEmpty {
            fail("must match exactly one schema in oneOf, but matches \(passing.map(String.init).joined(separator: ", "))")
            return false
        }
        let here = JSONPointer.string(instancePath)
        let meant = captured.indices.filter { !Message.isShapeMismatch(captured[$0], at: here) }
        if meant.count == 1 {
            for error in captured[meant[0]] where errors.count < maxErrors { errors.append(error) }
            return false
        }
        let summary = captured.enumerated().compactMap { i, branch in
            branch.first.map { "[\(i)] \(Message.relative($0, to: here))" }
        }
        fail("must match \(exactlyOne ? "exactly one" : "at least one") schema in \(keyword): \(summary.joined(separator: "; "))")
        return false
    }
}
