package import MoonflowModel

/// A node of a composed YAML document, with the 1-based position where it starts.
///
/// Aliases are already expanded and `<<` merge keys already applied when a tree is handed out,
/// so consumers never see anchors. Locations do not take part in equality.
package struct YAMLNode: Sendable, Hashable {
    package enum Content: Sendable, Hashable {
        case scalar(YAMLScalar)
        case sequence([YAMLNode])
        case mapping([YAMLPair])
    }

    package var content: Content
    /// The explicit tag, in full form (`tag:yaml.org,2002:str`), or `nil` when none was written.
    package var tag: String?
    /// Where the node starts. An expanded alias is located at its `*name`; the nodes inside it
    /// (and pairs brought in by `<<`) keep the locations where the anchored node wrote them.
    @IgnoredInEquality package var location: SourceLocation

    package init(_ content: Content, tag: String? = nil, location: SourceLocation) {
        self.content = content
        self.tag = tag
        self.location = location
    }
}

/// A scalar as written: its text (after YAML's folding and escapes) and its style.
/// Typing (YAML 1.2 core) is decided by `YAMLNode.resolvedScalar`, never by libyaml.
package struct YAMLScalar: Sendable, Hashable {
    package enum Style: Sendable, Hashable { case plain, singleQuoted, doubleQuoted, literal, folded }
    package var text: String
    package var style: Style

    package init(_ text: String, style: Style = .plain) {
        self.text = text
        self.style = style
    }
}

package struct YAMLPair: Sendable, Hashable {
    package var key: YAMLNode
    package var value: YAMLNode
    package init(key: YAMLNode, value: YAMLNode) {
        self.key = key
        self.value = value
    }
}

extension YAMLNode {
    package var scalar: YAMLScalar? { if case .scalar(let s) = content { s } else { nil } }
    package var sequence: [YAMLNode]? { if case .sequence(let s) = content { s } else { nil } }
    package var mapping: [YAMLPair]? { if case .mapping(let m) = content { m } else { nil } }

    /// A short description of the node's kind for error messages ("a mapping", "a list", "the number 3").
    package var kindDescription: String {
        switch content {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let s):
            switch resolvedScalar {
            case .null: return "null"
            case .bool(let b): return "the boolean \(b)"
            case .int, .double: return "the number \(s.text)"
            case .string: return s.text.isEmpty ? "an empty string" : "the string '\(s.text)'"
            default: return "a scalar"
            }
        }
    }
}
