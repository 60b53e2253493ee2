import Foundation
import MoonflowModel

/// A place in a schema document: the document's URI and a JSON Pointer inside it.
struct SchemaLocation: Hashable {
    var document: String
    var pointer: [String]
}

/// Turns a schema document (and the documents its references reach) into a `SchemaProgram`.
///
/// Two passes per document: `index` walks every subschema position to learn the base URI of each
/// location and the `$id`s, `$anchor`s and `$dynamicAnchor`s of each resource; then nodes are
/// compiled from a work list, each location once, so reference cycles cost nothing.
struct SchemaCompiler {
    private struct Resource {
        var location: SchemaLocation
        var anchors: [String: [String]] = [:]
        var dynamicAnchors: [String: [String]] = [:]
    }

    private let resolver: (any SchemaResolver)?
    private let assertFormats: Bool
    private let rootDocument: String
    private var vocabularies = Vocabulary.all

    private var documents: [String: Value] = [:]
    private var resources: [Resource] = []
    private var resourceByURI: [String: Int] = [:]
    private var resourceByLocation: [SchemaLocation: Int] = [:]
    private var baseByLocation: [SchemaLocation: String] = [:]

    private var nodes: [SchemaNode?] = []
    private var nodeByLocation: [SchemaLocation: Int] = [:]
    private var pending: [(node: Int, location: SchemaLocation, base: String)] = []
    private var dynamicAnchorNodes: [Int: [String: Int]] = [:]
    private var patterns: [String: Pattern] = [:]
    private var collectsAnnotations = false

    init(rootDocument: String, resolver: (any SchemaResolver)?, assertFormats: Bool) {
        self.rootDocument = rootDocument
        self.resolver = resolver
        self.assertFormats = assertFormats
    }

    mutating func compile(_ schema: Value) throws(SchemaCompileError) -> SchemaProgram {
        documents[rootDocument] = schema
        index(document: rootDocument)
        try selectVocabularies(schema)
        let root = try node(at: SchemaLocation(document: rootDocument, pointer: []))
        while let next = pending.popLast() {
            nodes[next.node] = try compileNode(at: next.location, base: next.base)
        }
        let anchors = resources.indices.map { dynamicAnchorNodes[$0] ?? [:] }
        return SchemaProgram(
            nodes: nodes.map { $0! }, dynamicAnchors: anchors, collectsAnnotations: collectsAnnotations, root: root)
    }

    // MARK: Indexing

    private mutating func index(document: String) {
        let location = SchemaLocation(document: document, pointer: [])
        register(uri: document, at: location)
        walk(documents[document]!, location, base: document)
    }

    @discardableResult
    private mutating func register(uri: String, at location: SchemaLocation) -> Int {
        if let existing = resourceByLocation[location] {
            resourceByURI[uri] = resourceByURI[uri] ?? existing
            return existing
        }
        if let existing = resourceByURI[uri] { return existing }
        resources.append(Resource(location: location))
        resourceByURI[uri] = resources.count - 1
        resourceByLocation[location] = resources.count - 1
        return resources.count - 1
    }

    private mutating func walk(_ value: Value, _ location: SchemaLocation, base: String) {
        guard case .object(let members) = value else {
            baseByLocation[location] = base
            return
        }
        var base = base
        if case .string(let id)? = members["$id"] {
            base = URIReference(base).resolving(id).withoutFragment
            register(uri: base, at: location)
        }
        baseByLocation[location] = base
        let resource = resourceByURI[base]!
        if case .string(let anchor)? = members["$anchor"] {
            resources[resource].anchors[anchor] = location.pointer
        }
        if case .string(let anchor)? = members["$dynamicAnchor"] {
            resources[resource].anchors[anchor] = location.pointer
            resources[resource].dynamicAnchors[anchor] = location.pointer
        }
        for (key, child) in members {
            var childLocation = location
            childLocation.pointer.append(key)
            switch SubschemaShape(keyword: key) {
            case .single:
                walk(child, childLocation, base: base)
            case .list:
                guard case .array(let items) = child else { continue }
                for (i, item) in items.enumerated() {
                    walk(item, SchemaLocation(document: location.document, pointer: childLocation.pointer + [String(i)]), base: base)
                }
            case .map:
                guard case .object(let map) = child else { continue }
                for (name, item) in map {
                    walk(item, SchemaLocation(document: location.document, pointer: childLocation.pointer + [name]), base: base)
                }
            case nil:
                continue
            }
        }
    }

    // MARK: Vocabularies

    /// A root `$schema` naming a meta-schema with `$vocabulary` switches keywords of absent
    /// vocabularies off; a required vocabulary this validator does not know is a compile error.
    private mutating func selectVocabularies(_ schema: Value) throws(SchemaCompileError) {
        guard case .string(let metaURI)? = schema["$schema"] else { return }
        let uri = URIReference(metaURI).withoutFragment
        guard uri != Metaschemas.schemaURI, let resource = try? resource(for: uri, at: ["$schema"]),
            case .object(let declared)? = JSONPointer.resolve(resources[resource].location.pointer, in: documents[resources[resource].location.document]!)?["$vocabulary"]
        else { return }
        var selected: Set<Vocabulary> = [.core]
        for (name, required) in declared {
            if let vocabulary = Vocabulary(rawValue: name) {
                selected.insert(vocabulary)
            } else if required == .bool(true) {
                throw SchemaCompileError(
                    code: .unsupportedVocabulary, schemaPath: "/$schema",
                    message: "the meta-schema \(metaURI) requires the unknown vocabulary \(name)")
            }
        }
        vocabularies = selected
    }

    // MARK: Resolution

    /// The resource a URI (without fragment) names, loading its document through the resolver
    /// or the built-in meta-schemas when it is not known yet.
    private mutating func resource(for uri: String, at pointer: [String]) throws(SchemaCompileError) -> Int? {
        if let known = resourceByURI[uri] { return known }
        var document: Value?
        if let url = URL(string: uri) {
            do {
                document = try resolver?.schema(for: url)
            } catch {
                throw SchemaCompileError(
                    code: .resolutionFailed, document: documentName(rootDocument), schemaPath: JSONPointer.string(pointer),
                    message: "cannot load \(uri): \(error)")
            }
        }
        guard let document = document ?? Metaschemas.document(for: uri) else { return nil }
        documents[uri] = document
        index(document: uri)
        return resourceByURI[uri]
    }

    /// The node a `$ref`-style reference names, resolved against `base`.
    private mutating func target(of reference: String, base: String, at location: SchemaLocation) throws(SchemaCompileError) -> Int {
        let uri = URIReference(base).resolving(reference)
        let resourceURI = uri.withoutFragment
        func unresolved(_ why: String) -> SchemaCompileError {
            SchemaCompileError(
                code: .unresolvedReference, document: documentName(location.document),
                schemaPath: JSONPointer.string(location.pointer), message: "cannot resolve \(reference) (\(uri.text)): \(why)")
        }
        guard let resource = try resource(for: resourceURI, at: location.pointer) else {
            throw unresolved("no schema with this URI")
        }
        let root = resources[resource].location
        let fragment = uri.fragment ?? ""
        var pointer = root.pointer
        if fragment.hasPrefix("/") {
            guard let decoded = percentDecoded(fragment), let tokens = JSONPointer.tokens(decoded) else {
                throw unresolved("malformed JSON Pointer")
            }
            pointer += tokens
        } else if !fragment.isEmpty {
            guard let anchored = resources[resource].anchors[fragment] else { throw unresolved("no anchor '\(fragment)'") }
            pointer = anchored
        }
        let targetLocation = SchemaLocation(document: root.document, pointer: pointer)
        guard JSONPointer.resolve(pointer, in: documents[root.document]!) != nil else {
            throw unresolved("nothing at this JSON Pointer")
        }
        return try node(at: targetLocation)
    }

    /// The node index of a location, queued for compilation the first time it is asked for.
    private mutating func node(at location: SchemaLocation) throws(SchemaCompileError) -> Int {
        if let known = nodeByLocation[location] { return known }
        let index = nodes.count
        nodes.append(nil)
        nodeByLocation[location] = index
        pending.append((index, location, inheritedBase(of: location)))
        return index
    }

    /// The base URI in effect at a location: recorded by `index` for subschema positions,
    /// else that of the nearest indexed ancestor (a `$ref` may point into any JSON value).
    private func inheritedBase(of location: SchemaLocation) -> String {
        var probe = location
        while true {
            if let base = baseByLocation[probe] { return base }
            if probe.pointer.isEmpty { return location.document }
            probe.pointer.removeLast()
        }
    }

    private func documentName(_ document: String) -> String? {
        document == rootDocument ? nil : document
    }

    // MARK: Nodes

    private mutating func compileNode(at location: SchemaLocation, base: String) throws(SchemaCompileError) -> SchemaNode {
        let value = JSONPointer.resolve(location.pointer, in: documents[location.document]!)!
        let resource = resourceByURI[base] ?? register(uri: base, at: location)
        try compileDynamicAnchors(of: resource)
        switch value {
        case .bool(let b):
            return SchemaNode(body: .boolean(b), resource: resource)
        case .object(let members):
            var reader = KeywordReader(location: location, base: base, members: members, document: documentName(location.document))
            let keywords = try compileKeywords(&reader)
            return SchemaNode(body: .keywords(keywords), resource: resource)
        default:
            throw SchemaCompileError(
                code: .invalidKeyword, document: documentName(location.document), schemaPath: JSONPointer.string(location.pointer),
                message: "a schema must be an object or a boolean, not \(value.typeName)")
        }
    }

    private mutating func compileDynamicAnchors(of resource: Int) throws(SchemaCompileError) {
        guard dynamicAnchorNodes[resource] == nil else { return }
        dynamicAnchorNodes[resource] = [:]
        let document = resources[resource].location.document
        for (name, pointer) in resources[resource].dynamicAnchors {
            dynamicAnchorNodes[resource]![name] = try node(at: SchemaLocation(document: document, pointer: pointer))
        }
    }

    private mutating func subschema(_ reader: KeywordReader, _ tokens: String...) throws(SchemaCompileError) -> Int {
        try node(at: SchemaLocation(document: reader.location.document, pointer: reader.location.pointer + tokens))
    }

    private mutating func pattern(_ source: String, _ reader: KeywordReader, _ tokens: String...) throws(SchemaCompileError) -> Pattern {
        if let known = patterns[source] { return known }
        do {
            let compiled = try Pattern(source)
            patterns[source] = compiled
            return compiled
        } catch {
            throw SchemaCompileError(
                code: .invalidRegex, document: reader.document,
                schemaPath: JSONPointer.string(reader.location.pointer + tokens), message: "invalid regular expression \(source)")
        }
    }

    private func enabled(_ keyword: String) -> Bool {
        guard let vocabulary = Vocabulary(keyword: keyword) else { return false }
        if vocabulary == .formatAnnotation { return !vocabularies.isDisjoint(with: [.formatAnnotation, .formatAssertion]) }
        return vocabularies.contains(vocabulary)
    }

    private mutating func compileKeywords(_ r: inout KeywordReader) throws(SchemaCompileError) -> [Keyword] {
        var keywords: [Keyword] = []
        var trailing: [Keyword] = []
        let m = r.members
        for (key, value) in m where enabled(key) {
            switch key {
            case "$id", "$schema", "$anchor", "$dynamicAnchor", "$comment":
                _ = try r.string(key)
            case "$vocabulary":
                _ = try r.object(key)
            case "$defs":
                for name in try r.object(key).keys { _ = try subschema(r, key, name) }
            case "$ref":
                keywords.append(.ref(try target(of: try r.string(key), base: r.base, at: r.at(key))))
            case "$dynamicRef":
                keywords.append(try dynamicRef(try r.string(key), r))
            case "type":
                keywords.insert(.type(try r.types(key)), at: 0)
            case "enum":
                keywords.append(.enumeration(try r.array(key)))
            case "const":
                keywords.append(.constant(value))
            case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
                keywords.append(.bound(Bound(rawValue: key)!, try r.number(key)))
            case "multipleOf":
                let divisor = try r.number(key)
                guard divisor.compare(.int(0)) > 0 else { throw r.invalid(key, "must be a number greater than 0") }
                keywords.append(.multipleOf(divisor.decimal, shown: divisor))
            case "minLength": keywords.append(.minLength(try r.count(key)))
            case "maxLength": keywords.append(.maxLength(try r.count(key)))
            case "pattern": keywords.append(.pattern(try pattern(try r.string(key), r, key)))
            case "format":
                let name = try r.string(key)
                if assertFormats || vocabularies.contains(.formatAssertion), let format = SchemaFormat(rawValue: name) {
                    keywords.append(.format(format))
                }
            case "prefixItems":
                let count = try r.schemaList(key)
                keywords.append(.prefixItems(try (0..<count).map { i throws(SchemaCompileError) in try subschema(r, key, String(i)) }))
            case "items":
                let prefix = enabled("prefixItems") ? (m["prefixItems"]?.arrayValue?.count ?? 0) : 0
                keywords.append(.items(try subschema(r, key), prefixCount: prefix))
            case "contains":
                let min = try m["minContains"] != nil && enabled("minContains") ? r.count("minContains") : 1
                let max = try m["maxContains"] != nil && enabled("maxContains") ? r.count("maxContains") : nil
                keywords.append(.contains(try subschema(r, key), min: min, minGiven: m["minContains"] != nil, max: max))
            case "minContains", "maxContains":
                _ = try r.count(key)
            case "minItems": keywords.append(.minItems(try r.count(key)))
            case "maxItems": keywords.append(.maxItems(try r.count(key)))
            case "uniqueItems":
                if try r.bool(key) { keywords.append(.uniqueItems) }
            case "properties":
                let names = try r.object(key).keys
                keywords.append(.properties(try names.map { name throws(SchemaCompileError) in (name, try subschema(r, key, name)) }))
            case "patternProperties":
                let sources = try r.object(key).keys
                keywords.append(.patternProperties(try sources.map { source throws(SchemaCompileError) in
                    (try pattern(source, r, key, source), try subschema(r, key, source))
                }))
            case "additionalProperties":
                let known = enabled("properties") ? Set(m["properties"]?.objectValue?.keys ?? []) : []
                var regexes: [Pattern] = []
                if enabled("patternProperties"), let sources = m["patternProperties"]?.objectValue?.keys {
                    for source in sources { regexes.append(try pattern(source, r, "patternProperties", source)) }
                }
                keywords.append(.additionalProperties(try subschema(r, key), known: known, patterns: regexes))
            case "propertyNames": keywords.append(.propertyNames(try subschema(r, key)))
            case "minProperties": keywords.append(.minProperties(try r.count(key)))
            case "maxProperties": keywords.append(.maxProperties(try r.count(key)))
            case "required": keywords.append(.required(try r.strings(key)))
            case "dependentRequired":
                var list: [(name: String, required: [String])] = []
                for name in try r.object(key).keys {
                    list.append((name, try r.strings(key, name)))
                }
                keywords.append(.dependentRequired(list))
            case "dependentSchemas":
                let names = try r.object(key).keys
                keywords.append(.dependentSchemas(try names.map { name throws(SchemaCompileError) in (name, try subschema(r, key, name)) }))
            case "allOf", "anyOf", "oneOf":
                let count = try r.schemaList(key)
                let list = try (0..<count).map { i throws(SchemaCompileError) in try subschema(r, key, String(i)) }
                keywords.append(key == "allOf" ? .allOf(list) : key == "anyOf" ? .anyOf(list) : .oneOf(list))
            case "not": keywords.append(.not(try subschema(r, key)))
            case "if":
                let then = try m["then"] != nil && enabled("then") ? subschema(r, "then") : nil
                let otherwise = try m["else"] != nil && enabled("else") ? subschema(r, "else") : nil
                keywords.append(.conditional(if: try subschema(r, key), then: then, else: otherwise))
            case "then", "else":
                // Compiled with `if`; alone they do nothing, but must still be schemas.
                if m["if"] == nil { _ = try subschema(r, key) }
            case "unevaluatedProperties":
                collectsAnnotations = true
                trailing.append(.unevaluatedProperties(try subschema(r, key)))
            case "unevaluatedItems":
                collectsAnnotations = true
                trailing.insert(.unevaluatedItems(try subschema(r, key)), at: 0)
            default:
                continue
            }
        }
        return keywords + trailing
    }

    private mutating func dynamicRef(_ reference: String, _ r: KeywordReader) throws(SchemaCompileError) -> Keyword {
        let staticTarget = try target(of: reference, base: r.base, at: r.at("$dynamicRef"))
        let uri = URIReference(r.base).resolving(reference)
        // Dynamic only when the static target itself declares the same `$dynamicAnchor` (the "bookend").
        guard let name = uri.fragment, !name.isEmpty, !name.hasPrefix("/"), let resource = resourceByURI[uri.withoutFragment],
            resources[resource].dynamicAnchors[name] != nil
        else { return .dynamicRef(staticTarget, anchor: nil) }
        return .dynamicRef(staticTarget, anchor: name)
    }
}

/// Where a keyword keeps subschemas, for indexing.
private enum SubschemaShape {
    case single, list, map

    init?(keyword: String) {
        switch keyword {
        case "items", "additionalProperties", "unevaluatedItems", "unevaluatedProperties", "contains",
            "propertyNames", "not", "if", "then", "else", "contentSchema":
            self = .single
        case "prefixItems", "allOf", "anyOf", "oneOf":
            self = .list
        case "$defs", "definitions", "properties", "patternProperties", "dependentSchemas":
            self = .map
        default:
            return nil
        }
    }
}

/// The draft 2020-12 vocabularies and the keywords each defines.
enum Vocabulary: String, Hashable, CaseIterable {
    case core = "https://json-schema.org/draft/2020-12/vocab/core"
    case applicator = "https://json-schema.org/draft/2020-12/vocab/applicator"
    case unevaluated = "https://json-schema.org/draft/2020-12/vocab/unevaluated"
    case validation = "https://json-schema.org/draft/2020-12/vocab/validation"
    case metaData = "https://json-schema.org/draft/2020-12/vocab/meta-data"
    case formatAnnotation = "https://json-schema.org/draft/2020-12/vocab/format-annotation"
    case formatAssertion = "https://json-schema.org/draft/2020-12/vocab/format-assertion"
    case content = "https://json-schema.org/draft/2020-12/vocab/content"

    /// What a schema gets without a custom meta-schema: everything but format assertion (an option).
    static let all = Set(Vocabulary.allCases).subtracting([.formatAssertion])

    init?(keyword: String) {
        switch keyword {
        case "$id", "$schema", "$ref", "$anchor", "$dynamicRef", "$dynamicAnchor", "$vocabulary", "$comment", "$defs":
            self = .core
        case "prefixItems", "items", "contains", "additionalProperties", "properties", "patternProperties",
            "dependentSchemas", "propertyNames", "if", "then", "else", "allOf", "anyOf", "oneOf", "not":
            self = .applicator
        case "unevaluatedItems", "unevaluatedProperties":
            self = .unevaluated
        case "type", "const", "enum", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
            "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxContains", "minContains",
            "maxProperties", "minProperties", "required", "dependentRequired":
            self = .validation
        case "format":
            self = .formatAnnotation
        default:
            return nil
        }
    }
}
