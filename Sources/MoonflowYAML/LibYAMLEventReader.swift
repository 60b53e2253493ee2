internal import CYAML
import MoonflowModel

/// One libyaml event, already converted to Swift values.
enum YAMLEvent: Equatable {
    case streamStart
    case streamEnd
    case documentStart
    case documentEnd
    case alias(anchor: String)
    case scalar(YAMLScalar, anchor: String?, tag: String?)
    case sequenceStart(anchor: String?, tag: String?)
    case sequenceEnd
    case mappingStart(anchor: String?, tag: String?)
    case mappingEnd
}

/// libyaml's event parser: the single owner of the C parser handle and of the input buffer,
/// which libyaml reads lazily and so must live exactly as long as the handle. Both are freed in
/// `deinit`. This type is the one boundary where C conventions become Swift ones: 0-based marks
/// become 1-based locations, C error fields become a `Diagnostic`.
///
/// libyaml 0.2.5 counts a mark's column in characters (a multi-byte UTF-8 character is one
/// column) and does not count a leading BOM, so `column + 1` is a column in Unicode scalars.
final class LibYAMLEventReader {
    private let parser: UnsafeMutablePointer<yaml_parser_t>
    private let input: UnsafeMutableBufferPointer<UInt8>
    private let source: YAMLSource

    init(source: YAMLSource) {
        self.source = source
        parser = .allocate(capacity: 1)
        input = .allocate(capacity: max(source.bytes.count, 1))
        _ = source.bytes.withUnsafeBufferPointer { input.initialize(fromContentsOf: $0) }
        // Fails only when malloc fails, which Swift itself treats as fatal.
        guard yaml_parser_initialize(parser) == 1 else { fatalError("libyaml could not allocate its parser") }
        // No encoding is set: libyaml then skips a UTF-8 BOM; UTF-16 was refused before this point.
        yaml_parser_set_input_string(parser, input.baseAddress, source.bytes.count)
    }

    deinit {
        yaml_parser_delete(parser)
        parser.deallocate()
        input.deallocate()
    }

    /// The next event and where it starts; a libyaml error becomes a `YAMLSyntax` diagnostic.
    func next() throws(Diagnostic) -> (event: YAMLEvent, location: SourceLocation) {
        var event = yaml_event_t()
        guard yaml_parser_parse(parser, &event) == 1 else { throw syntaxError() }
        defer { yaml_event_delete(&event) }
        let location = location(of: event.start_mark)
        switch event.type {
        case YAML_STREAM_START_EVENT: return (.streamStart, location)
        case YAML_STREAM_END_EVENT: return (.streamEnd, location)
        case YAML_DOCUMENT_START_EVENT: return (.documentStart, location)
        case YAML_DOCUMENT_END_EVENT: return (.documentEnd, location)
        case YAML_ALIAS_EVENT: return (.alias(anchor: Self.string(event.data.alias.anchor) ?? ""), location)
        case YAML_SCALAR_EVENT:
            let data = event.data.scalar
            let text = String(decoding: UnsafeBufferPointer(start: data.value, count: data.length), as: UTF8.self)
            let scalar = YAMLScalar(text, style: Self.style(data.style))
            return (.scalar(scalar, anchor: Self.string(data.anchor), tag: Self.string(data.tag)), location)
        case YAML_SEQUENCE_START_EVENT:
            let data = event.data.sequence_start
            return (.sequenceStart(anchor: Self.string(data.anchor), tag: Self.string(data.tag)), location)
        case YAML_SEQUENCE_END_EVENT: return (.sequenceEnd, location)
        case YAML_MAPPING_START_EVENT:
            let data = event.data.mapping_start
            return (.mappingStart(anchor: Self.string(data.anchor), tag: Self.string(data.tag)), location)
        case YAML_MAPPING_END_EVENT: return (.mappingEnd, location)
        default: preconditionFailure("libyaml returned an event of unknown type \(event.type.rawValue)")
        }
    }

    private func location(of mark: yaml_mark_t) -> SourceLocation {
        source.location(line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }

    private func syntaxError() -> Diagnostic {
        let state = parser.pointee
        let problem = Self.string(state.problem) ?? "unknown problem"
        switch state.error {
        case YAML_READER_ERROR:
            // Reader errors carry a byte offset and the offending character, not a mark.
            var message = problem
            if state.problem_value != -1 {
                let hex = String(state.problem_value, radix: 16, uppercase: true)
                message += " (U+\(String(repeating: "0", count: max(0, 4 - hex.count)) + hex))"
            }
            return Diagnostic(.yamlSyntax, message, at: source.location(ofByteOffset: state.problem_offset))
        case YAML_SCANNER_ERROR, YAML_PARSER_ERROR:
            let context = Self.string(state.context).map { (text: $0, location: location(of: state.context_mark)) }
            return YAMLSyntaxMessage(
                problem: problem, context: context, location: location(of: state.problem_mark), source: source
            ).diagnostic
        case YAML_MEMORY_ERROR:
            return Diagnostic(.yamlSyntax, "libyaml ran out of memory reading the file", at: source.location(line: 1, column: 1))
        default:
            return Diagnostic(.yamlSyntax, "libyaml failed: \(problem)", at: source.location(line: 1, column: 1))
        }
    }

    private static func string(_ pointer: UnsafePointer<CChar>?) -> String? {
        pointer.map { String(cString: $0) }
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: $0) }
    }

    private static func style(_ style: yaml_scalar_style_t) -> YAMLScalar.Style {
        switch style {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE: .singleQuoted
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE: .doubleQuoted
        case YAML_LITERAL_SCALAR_STYLE: .literal
        case YAML_FOLDED_SCALAR_STYLE: .folded
        default: .plain
        }
    }
}
