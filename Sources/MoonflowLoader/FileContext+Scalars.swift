import MoonflowModel
import MoonflowYAML

/// Typed readers for scalar fields. Each returns `nil` after reporting a precise error, so the
/// caller keeps reading the rest of the file.
extension FileContext {
    /// Text as written (`version: 1.10` stays "1.10"); a mapping, list or null is an error.
    func string(_ node: YAMLNode, _ field: String) -> String? {
        guard let scalar = node.scalar, node.resolvedScalar != .null else {
            error(.typeMismatch, "'\(field)' must be text, not \(node.kindDescription)", at: node)
            return nil
        }
        return scalar.text
    }

    /// A name matching `[a-z][a-z0-9_.-]*` (workflow ids) or `[A-Za-z_][A-Za-z0-9_.-]*` (activities, policies).
    func identifier(_ node: YAMLNode, _ field: String, lowercaseOnly: Bool = false) -> String? {
        guard let text = string(node, field) else { return nil }
        let scalars = Array(text.unicodeScalars)
        func ok(_ c: Unicode.Scalar, first: Bool) -> Bool {
            let lower = c.properties.isLowercase && c.isASCII
            let upper = c.properties.isUppercase && c.isASCII
            let digit = ("0"..."9").contains(c)
            if first { return lower || (!lowercaseOnly && (upper || c == "_")) }
            return lower || digit || c == "_" || c == "." || c == "-" || (!lowercaseOnly && upper)
        }
        guard let first = scalars.first, ok(first, first: true), scalars.dropFirst().allSatisfy({ ok($0, first: false) })
        else {
            let pattern = lowercaseOnly ? "[a-z][a-z0-9_.-]*" : "[A-Za-z_][A-Za-z0-9_.-]*"
            error(.invalidValue, "'\(text)' is not a valid \(field): use \(pattern)", at: node)
            return nil
        }
        return text
    }

    /// `true`/`false` only (any case); YAML 1.1 words get a hint.
    func bool(_ node: YAMLNode, _ field: String) -> Bool? {
        if case .bool(let b) = node.resolvedScalar { return b }
        if let text = node.scalar?.text, ["yes", "no", "on", "off", "y", "n"].contains(text.lowercased()) {
            error(
                .typeMismatch, "'\(field)' must be true or false, not the string '\(text)'", at: node,
                hint: "YAML 1.2 reads '\(text)' as text; write \(["yes", "on", "y"].contains(text.lowercased()) ? "true" : "false")")
            return nil
        }
        error(.typeMismatch, "'\(field)' must be true or false, not \(node.kindDescription)", at: node)
        return nil
    }

    /// A decimal integer in `range`; `012`, `1_000`, `1:30`, `3.0` and quoted numbers are refused.
    func int(_ node: YAMLNode, _ field: String, _ range: ClosedRange<Int>) -> Int? {
        guard let scalar = node.scalar else {
            error(.typeMismatch, "'\(field)' must be a whole number, not \(node.kindDescription)", at: node)
            return nil
        }
        guard case .int(let value) = node.resolvedScalar else {
            numberFormError(node, scalar, field, expecting: "a whole number")
            return nil
        }
        guard let v = Int(exactly: value), range.contains(v) else {
            error(.outOfRange, "'\(field)' must be \(describe(range)), not \(value)", at: node)
            return nil
        }
        return v
    }

    /// Any number (integer or decimal) in `range`.
    func number(_ node: YAMLNode, _ field: String, _ range: ClosedRange<Double>) -> Double? {
        guard let scalar = node.scalar else {
            error(.typeMismatch, "'\(field)' must be a number, not \(node.kindDescription)", at: node)
            return nil
        }
        guard let value = node.resolvedScalar?.numberValue else {
            numberFormError(node, scalar, field, expecting: "a number")
            return nil
        }
        guard range.contains(value) else {
            error(.outOfRange, "'\(field)' must be between \(format(range.lowerBound)) and \(format(range.upperBound)), not \(scalar.text)", at: node)
            return nil
        }
        return value
    }

    private func numberFormError(_ node: YAMLNode, _ scalar: YAMLScalar, _ field: String, expecting: String) {
        let text = scalar.text
        let digits = text.drop { $0 == "-" || $0 == "+" }
        if scalar.style != .plain, YAMLNode(.scalar(YAMLScalar(text)), location: node.location).resolvedScalar?.numberValue != nil {
            error(.typeMismatch, "'\(field)' must be \(expecting), not the quoted text \"\(text)\"", at: node, hint: "remove the quotes")
        } else if digits.count > 1, digits.first == "0", digits.allSatisfy(\.isNumber) {
            error(
                .invalidValue, "'\(field)': \(text) has a leading zero", at: node,
                hint: "YAML 1.1 would read \(text) as an octal number; write \(Int(digits) ?? 0) if that is what you mean")
        } else if text.contains("_"), text.allSatisfy({ $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }) {
            error(.invalidValue, "'\(field)': \(text) uses '_' separators", at: node, hint: "write \(text.filter { $0 != "_" })")
        } else if text.contains(":"), text.allSatisfy({ $0.isNumber || $0 == ":" || $0 == "-" }) {
            error(
                .invalidValue, "'\(field)': \(text) is a base-60 number, which Moonflow does not read", at: node,
                hint: "write the number itself, or a duration such as 1m30s")
        } else if case .double(let d) = node.resolvedScalar, expecting == "a whole number" {
            error(.typeMismatch, "'\(field)' must be a whole number, not \(format(d))", at: node)
        } else {
            error(.typeMismatch, "'\(field)' must be \(expecting), not \(node.kindDescription)", at: node)
        }
    }

    /// A duration (`30s`, `5m`, `PT30S`); zero allowed only when `allowZero`.
    func duration(_ node: YAMLNode, _ field: String, allowZero: Bool = false) -> Duration? {
        guard let scalar = node.scalar, scalar.style == .plain || scalar.style == .singleQuoted || scalar.style == .doubleQuoted
        else {
            error(.typeMismatch, "'\(field)' must be a duration such as 30s, not \(node.kindDescription)", at: node)
            return nil
        }
        if case .int(let n) = node.resolvedScalar {
            error(.invalidValue, "'\(field)': a duration needs a unit", at: node, hint: "write \(n)s, \(n)ms or \(n)m")
            return nil
        }
        switch Quantities.duration(scalar.text) {
        case .success(let d):
            if d == .zero && !allowZero {
                error(.outOfRange, "'\(field)' must be longer than zero", at: node)
                return nil
            }
            return d
        case .failure(.negative):
            error(.outOfRange, "'\(field)' cannot be negative (\(scalar.text))", at: node)
        case .failure(.invalid(let why)):
            error(.invalidValue, "'\(field)': '\(scalar.text)' is not a duration: \(why)", at: node, hint: "durations look like 500ms, 30s, 5m, 2h, 1d or PT30S")
        }
        return nil
    }

    /// A size in bytes (`16MB`, `512KB`, `64Mi`, or a plain number of bytes).
    func size(_ node: YAMLNode, _ field: String) -> Int? {
        if case .int(let n) = node.resolvedScalar {
            guard n > 0 else {
                error(.outOfRange, "'\(field)' must be larger than zero", at: node)
                return nil
            }
            return Int(n)
        }
        guard let text = node.scalar?.text else {
            error(.typeMismatch, "'\(field)' must be a size such as 16MB, not \(node.kindDescription)", at: node)
            return nil
        }
        switch Quantities.size(text) {
        case .success(let bytes) where bytes > 0: return bytes
        case .success, .failure(.negative):
            error(.outOfRange, "'\(field)' must be larger than zero", at: node)
        case .failure(.invalid(let why)):
            error(.invalidValue, "'\(field)': '\(text)' is not a size: \(why)", at: node)
        }
        return nil
    }

    /// One of `allowed`, with a suggestion for near misses.
    func choice(_ node: YAMLNode, _ field: String, _ allowed: [String]) -> String? {
        guard let text = string(node, field) else { return nil }
        guard allowed.contains(text) else {
            var message = "'\(field)' must be one of \(allowed.joined(separator: ", ")), not '\(text)'"
            if let s = Suggest.closest(to: text, in: allowed) { message += " — did you mean '\(s)'?" }
            error(.invalidValue, message, at: node)
            return nil
        }
        return text
    }

    /// A list of texts; a single text is read as a list of one (`needs: a`).
    func stringList(_ node: YAMLNode, _ field: String) -> [(String, YAMLNode)] {
        if node.scalar != nil { return string(node, field).map { [($0, node)] } ?? [] }
        guard let items = node.sequence else {
            error(.typeMismatch, "'\(field)' must be a list, not \(node.kindDescription)", at: node)
            return []
        }
        return items.compactMap { item in string(item, field).map { ($0, item) } }
    }

    /// A data value (context defaults, conditions, inline schemas): templates are not evaluated here.
    func value(_ node: YAMLNode) -> Value? {
        do {
            return try node.toValue()
        } catch {
            append(error)
            return nil
        }
    }

    /// A scalar holding text with `${ }` templates; `secrets` only where moonflow.yaml's
    /// connections allow them (`secretsAllowed`).
    func template(_ node: YAMLNode, _ field: String, secretsAllowed: Bool = false) -> Template? {
        guard let scalar = node.scalar, node.resolvedScalar != .null else {
            error(.typeMismatch, "'\(field)' must be text, not \(node.kindDescription)", at: node)
            return nil
        }
        return parseTemplate(scalar, at: node, secretsAllowed: secretsAllowed)
    }

    /// A condition: a whole `${ expression }`, or the literal true/false.
    func expression(_ node: YAMLNode, _ field: String) -> Expression? {
        if case .bool(let b) = node.resolvedScalar { return Expression(b ? "true" : "false", location: node.location) }
        guard let template = template(node, field) else { return nil }
        guard let expression = template.wholeExpression else {
            error(
                .badTemplate, "'\(field)' must be one expression written as ${ … }", at: node,
                hint: "for example: \(field): ${ input.amount > 100 }")
            return nil
        }
        return expression
    }

    /// A value whose strings may hold templates (`with`, `output`, trigger `input`).
    func valueTemplate(_ node: YAMLNode) -> ValueTemplate? {
        switch node.content {
        case .scalar(let scalar):
            guard case .string(let text) = node.resolvedScalar, text.contains("${") else {
                return value(node).map(ValueTemplate.value)
            }
            guard let template = parseTemplate(scalar, at: node) else { return nil }
            if template.expressions.isEmpty { return .value(.string(template.literalText)) }
            return .template(template)
        case .sequence(let items):
            var out: [ValueTemplate] = []
            var ok = true
            for item in items {
                if let v = valueTemplate(item) { out.append(v) } else { ok = false }
            }
            guard ok else { return nil }
            // Without an expression anywhere, the tree is one value: rendering it needs no scope
            // and no sandbox (the engine renders a `with` like this at every start of its activity).
            let values = out.compactMap(\.constant)
            return values.count == out.count ? .value(.array(values)) : .array(out)
        case .mapping(let pairs):
            var out: [(String, ValueTemplate)] = []
            var ok = true
            for pair in pairs {
                guard let key = pair.key.scalar?.text else {
                    error(.typeMismatch, "mapping keys must be plain text, not \(pair.key.kindDescription)", at: pair.key)
                    ok = false
                    continue
                }
                if let v = valueTemplate(pair.value) { out.append((key, v)) } else { ok = false }
            }
            guard ok else { return nil }
            let values = out.compactMap { key, template in template.constant.map { (key, $0) } }
            return values.count == out.count ? .value(.object(.init(uniqueKeysWithValues: values))) : .object(.init(uniqueKeysWithValues: out))
        }
    }

    private func parseTemplate(_ scalar: YAMLScalar, at node: YAMLNode, secretsAllowed: Bool = false) -> Template? {
        // Quoted scalars start one column after their opening quote.
        let offset = scalar.style == .singleQuoted || scalar.style == .doubleQuoted ? 1 : 0
        switch TemplateParser.parse(scalar.text, location: node.location, columnOffset: offset) {
        case .success(let t):
            if !secretsAllowed, let leak = t.expressions.first(where: { SecretReference.mentionsSecrets($0.source) }) {
                error(
                    .badTemplate, "secrets cannot be used here: ${ \(leak.source) }", at: leak.location,
                    hint: "${ secrets.NAME } may be used only in moonflow.yaml's connections (auth and headers); call the connection instead")
                return nil
            }
            return t
        case .failure(let failure):
            let loc = SourceLocation(file: node.location.file, line: node.location.line, column: node.location.column + offset + failure.offset)
            // In a plain scalar, ` #` starts a YAML comment: `${ #list > 0 }` loses everything after `${`.
            let cutByComment = scalar.style == .plain && (line(node.location.line)?.contains(" #") ?? false)
            let hint =
                cutByComment
                ? "in unquoted YAML, ' #' starts a comment and may have cut the expression: quote the value (\"${ #list > 0 }\")"
                : "templates look like ${ input.amount }; write $${ for a literal ${"
            error(.badTemplate, failure.message, at: scalar.style == .literal || scalar.style == .folded ? node.location : loc, hint: hint)
            return nil
        }
    }

    /// `concurrency` (docs/resilience.md), the same block in a workflow and in the engine configuration.
    func concurrency(_ node: YAMLNode) -> ConcurrencyLimits? {
        guard let map = MappingReader(node, self, what: "'concurrency'", allowed: ["max_workflows", "max_activities", "queuing"]) else { return nil }
        var out = ConcurrencyLimits()
        if let n = map["max_workflows"] { out.maxWorkflows = int(n, "max_workflows", 1...10_000_000) }
        if let n = map["max_activities"] { out.maxActivities = int(n, "max_activities", 1...100_000) }
        if let q = map["queuing"], let qm = MappingReader(q, self, what: "'queuing'", allowed: ["strategy", "timeout", "max_size"]) {
            if let s = qm["strategy"], let v = choice(s, "strategy", ["fifo", "priority"]) { out.strategy = .init(rawValue: v)! }
            if let t = qm["timeout"] { out.queueTimeout = duration(t, "timeout") }
            if let m = qm["max_size"] { out.queueMaxSize = int(m, "max_size", 0...100_000_000) }
        }
        return out
    }

    private func describe(_ range: ClosedRange<Int>) -> String {
        if range.upperBound == Int.max { return "at least \(range.lowerBound)" }
        return "between \(range.lowerBound) and \(range.upperBound)"
    }

    private func format(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
    }
}

extension Template {
    /// The text of a template without expressions (after `$${` unescaping).
    var literalText: String {
        parts.map { if case .literal(let s) = $0 { s } else { "" } }.joined()
    }
}
