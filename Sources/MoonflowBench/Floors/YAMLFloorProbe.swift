internal import CYAML

/// The floor `moonflow bench` divides loading by: libyaml's event loop alone over a file's bytes,
/// without composing nodes, checking limits or building any model. Nothing else should use it.
enum YAMLFloorProbe {
    /// Parses `bytes` to the end and returns how many events libyaml produced, or `nil` on a
    /// syntax error.
    static func countEvents(_ bytes: [UInt8]) -> Int? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return nil }
        defer { yaml_parser_delete(&parser) }
        return bytes.withUnsafeBufferPointer { buffer -> Int? in
            // libyaml reads the input lazily: the buffer outlives every parse call of this closure.
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var count = 0
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return nil }
                count += 1
                let done = event.type == YAML_STREAM_END_EVENT
                yaml_event_delete(&event)
                if done { return count }
            }
        }
    }
}
