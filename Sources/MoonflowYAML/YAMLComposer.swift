import MoonflowModel

/// A finished node with what the limits need to know about it.
struct ComposedNode {
    var node: YAMLNode
    /// Nodes in the subtree after alias expansion, keys included.
    var size: Int
    /// Levels of collections in the subtree: 0 for a scalar, 1 for a flat list or mapping.
    var height: Int
}

/// Builds node trees from libyaml events with an explicit stack, never by recursion, so hostile
/// nesting costs one stack frame no matter how deep it goes, and it stops at `maxDepth`.
///
/// Anchored nodes are stored once with their expanded size; an alias copies the stored node (a
/// copy-on-write share, not a deep copy) and charges its size to the alias budget, so an alias
/// bomb is refused after a handful of events without ever being materialised.
///
/// Errors after which composition can go on (duplicate keys, unknown aliases, bad tags, bad
/// merges) are collected in `diagnostics`; the others are thrown and end the parse.
struct YAMLComposer {
    private let reader: LibYAMLEventReader
    private let source: YAMLSource
    private let limits: YAMLLimits
    private var anchors: [String: ComposedNode] = [:]
    private var aliasExpansion = 0
    private(set) var diagnostics: [Diagnostic] = []

    init(source: YAMLSource, limits: YAMLLimits) {
        self.source = source
        self.limits = limits
        reader = LibYAMLEventReader(source: source)
    }

    /// Reads up to the start of the next document, or to the end of the stream (`nil`).
    mutating func nextDocumentStart() throws(Diagnostic) -> SourceLocation? {
        while true {
            let (event, location) = try reader.next()
            switch event {
            case .streamStart, .documentEnd: continue
            case .documentStart: return location
            case .streamEnd: return nil
            default: preconditionFailure("libyaml emitted \(event) outside a document")
            }
        }
    }

    /// Composes the document whose start was just read, through its end.
    mutating func composeDocument() throws(Diagnostic) -> YAMLNode {
        anchors.removeAll()  // an anchor is visible only in its own document
        var stack: [OpenCollection] = []
        while true {
            let (event, location) = try reader.next()
            let finished: ComposedNode
            var anchor: String?
            switch event {
            case .scalar(let scalar, let scalarAnchor, let tag):
                if let tag, case .failure(let mismatch) = YAMLNode.resolve(scalar, tag: tag) {
                    diagnostics.append(Diagnostic(.yamlBadTaggedValue, mismatch.message, at: location, hint: Self.badTagHint))
                }
                finished = ComposedNode(node: YAMLNode(.scalar(scalar), tag: tag, location: location), size: 1, height: 0)
                anchor = scalarAnchor
            case .alias(let name):
                finished = try expand(alias: name, at: location, in: stack)
            case .sequenceStart(let collectionAnchor, let tag):
                try checkDepth(stack.count + 1, at: location, "a list")
                checkCollectionTag(tag, isMapping: false, at: location)
                stack.append(OpenCollection(isMapping: false, anchor: collectionAnchor, tag: tag, location: location))
                continue
            case .mappingStart(let collectionAnchor, let tag):
                try checkDepth(stack.count + 1, at: location, "a mapping")
                checkCollectionTag(tag, isMapping: true, at: location)
                stack.append(OpenCollection(isMapping: true, anchor: collectionAnchor, tag: tag, location: location))
                continue
            case .sequenceEnd, .mappingEnd:
                let open = stack.removeLast()
                finished = finish(open)
                anchor = open.anchor
            case .documentEnd, .streamStart, .streamEnd, .documentStart:
                preconditionFailure("libyaml emitted \(event) before the document's root was complete")
            }
            if let anchor { anchors[anchor] = finished }
            guard !stack.isEmpty else {
                // The root is complete: the next event ends the document.
                let (end, _) = try reader.next()
                precondition(end == .documentEnd, "libyaml emitted \(end) after a document's root")
                return finished.node
            }
            add(finished, to: &stack[stack.count - 1])
        }
    }

    // MARK: - Limits

    private func checkDepth(_ depth: Int, at location: SourceLocation, _ what: String) throws(Diagnostic) {
        guard depth > limits.maxDepth else { return }
        throw Diagnostic(
            .yamlDepthLimitExceeded, "\(what) here is nested \(depth) levels deep, more than the limit of \(limits.maxDepth)",
            at: location, hint: "flatten the structure; such deep nesting is refused to protect the engine")
    }

    private mutating func expand(alias name: String, at location: SourceLocation, in stack: [OpenCollection]) throws(Diagnostic) -> ComposedNode {
        guard var anchored = anchors[name] else {
            let message =
                stack.contains { $0.anchor == name }
                ? "the alias '*\(name)' refers to the node that contains it"
                : "unknown alias '*\(name)': no anchor '&\(name)' is defined before it in this document"
            diagnostics.append(
                Diagnostic(.yamlUnknownAlias, message, at: location, hint: "define the anchor with `&\(name)` on a node written earlier in the file"))
            // A stand-in that merges nothing and nests nothing, so this mistake causes no others.
            return ComposedNode(node: YAMLNode(.mapping([]), location: location), size: 1, height: 0)
        }
        aliasExpansion += anchored.size
        guard aliasExpansion <= limits.maxAliasExpansion else {
            throw Diagnostic(
                .yamlAliasLimitExceeded,
                "expanding the alias '*\(name)' (\(anchored.size) nodes) takes the file past the limit of \(limits.maxAliasExpansion) nodes added by aliases",
                at: location, hint: "aliases are for reusing small blocks: write the data out or split it; a file that multiplies aliases like this is refused as an alias bomb")
        }
        try checkDepth(stack.count + anchored.height, at: location, "the alias '*\(name)' expanded")
        anchored.node.location = location
        return anchored
    }

    // MARK: - Building collections

    /// A mapping key as far as duplicates are concerned: scalars by their text (what `toValue()`
    /// makes of them), other keys by their content.
    private enum KeyIdentity: Hashable {
        case text(String)
        case node(YAMLNode)

        init(_ key: YAMLNode) {
            self = key.scalar.map { .text($0.text) } ?? .node(key)
        }
    }

    private struct OpenCollection {
        var isMapping: Bool
        var anchor: String?
        var tag: String?
        var location: SourceLocation
        /// For a mapping: keys and values alternately.
        var items: [ComposedNode] = []
        var size = 1
        var height = 1
        var firstKeyLocations: [KeyIdentity: SourceLocation] = [:]
        var hasMergeKey = false

        init(isMapping: Bool, anchor: String?, tag: String?, location: SourceLocation) {
            self.isMapping = isMapping
            self.anchor = anchor
            self.tag = tag
            self.location = location
        }
    }

    private mutating func add(_ child: ComposedNode, to open: inout OpenCollection) {
        if open.isMapping && open.items.count % 2 == 0 {
            let identity = KeyIdentity(child.node)
            if let first = open.firstKeyLocations[identity] {
                diagnostics.append(
                    Diagnostic(
                        .yamlDuplicateKey,
                        "duplicate key \(Self.describeKey(child.node)): it is already defined at line \(first.line), column \(first.column)",
                        at: child.node.location, hint: "remove one of them; a later key does not replace an earlier one"))
            } else {
                open.firstKeyLocations[identity] = child.node.location
            }
            if Self.isMergeKey(child.node) { open.hasMergeKey = true }
        }
        open.items.append(child)
        open.size += child.size
        open.height = max(open.height, child.height + 1)
    }

    private mutating func finish(_ open: OpenCollection) -> ComposedNode {
        let content: YAMLNode.Content
        if open.isMapping {
            var pairs: [YAMLPair] = []
            pairs.reserveCapacity(open.items.count / 2)
            for index in stride(from: 0, to: open.items.count, by: 2) {
                pairs.append(YAMLPair(key: open.items[index].node, value: open.items[index + 1].node))
            }
            content = .mapping(open.hasMergeKey ? applyMerges(pairs) : pairs)
        } else {
            content = .sequence(open.items.map(\.node))
        }
        return ComposedNode(node: YAMLNode(content, tag: open.tag, location: open.location), size: open.size, height: open.height)
    }

    // MARK: - Merge keys

    static func isMergeKey(_ key: YAMLNode) -> Bool {
        guard let scalar = key.scalar, scalar.text == "<<", scalar.style == .plain else { return false }
        return key.tag == nil || key.tag == YAMLNode.coreTag("merge")
    }

    /// Replaces each `<<` pair by the pairs it merges (a mapping, or a list of mappings where
    /// earlier ones win), skipping keys the mapping defines itself, wherever they are written.
    private mutating func applyMerges(_ pairs: [YAMLPair]) -> [YAMLPair] {
        var taken = Set(pairs.lazy.filter { !Self.isMergeKey($0.key) }.map { KeyIdentity($0.key) })
        var result: [YAMLPair] = []
        for pair in pairs {
            guard Self.isMergeKey(pair.key) else {
                result.append(pair)
                continue
            }
            let sources: [YAMLNode]
            switch pair.value.content {
            case .mapping: sources = [pair.value]
            case .sequence(let items): sources = items
            case .scalar:
                diagnostics.append(invalidMerge(pair.value, "`<<` merges a mapping or a list of mappings, not \(pair.value.kindDescription)"))
                continue
            }
            for source in sources {
                guard let merged = source.mapping else {
                    diagnostics.append(invalidMerge(source, "a `<<` list holds only mappings, not \(source.kindDescription)"))
                    continue
                }
                for mergedPair in merged where taken.insert(KeyIdentity(mergedPair.key)).inserted {
                    result.append(mergedPair)
                }
            }
        }
        return result
    }

    private func invalidMerge(_ node: YAMLNode, _ message: String) -> Diagnostic {
        Diagnostic(.yamlInvalidMerge, message, at: node.location, hint: "write `<<: *name` where `&name` anchors a mapping, or `<<: [*a, *b]`")
    }

    // MARK: - Tags and messages

    private mutating func checkCollectionTag(_ tag: String?, isMapping: Bool, at location: SourceLocation) {
        guard let tag, YAMLNode.coreTagNames.contains(tag) else { return }
        let expected = YAMLNode.coreTag(isMapping ? "map" : "seq")
        guard tag != expected else { return }
        let kind = isMapping ? "a mapping" : "a list"
        diagnostics.append(Diagnostic(.yamlBadTaggedValue, "`\(YAMLNode.shortTag(tag))` cannot tag \(kind)", at: location, hint: Self.badTagHint))
    }

    private static let badTagHint = "fix the value, or remove the tag and let the field's type decide"

    private static func describeKey(_ key: YAMLNode) -> String {
        key.scalar.map { "'\($0.text)'" } ?? "(\(key.kindDescription))"
    }
}
