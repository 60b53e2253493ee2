/// Where an event stands in the store's history: `offset` is the journal entry's position, which
/// the store assigns when the entry commits (1, 2, 3, … across every run, in commit order, never
/// reused); `sub` numbers what is published after that entry and belongs to it — the events a
/// script emitted with the activity it completed (1, 2, …) or the `run.notification` of a failed
/// run (1). On the event stream it is the SSE `id` (`"42"`, `"42.1"`), and `Last-Event-ID`
/// resumes strictly after it (docs/api.md).
package struct EventPosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    package var offset: Int64
    package var sub: Int

    package init(offset: Int64, sub: Int = 0) {
        self.offset = offset
        self.sub = sub
    }

    package var description: String { sub == 0 ? "\(offset)" : "\(offset).\(sub)" }

    /// Reads what `description` wrote: 1–18 decimal digits, optionally `.` and 1–9 more; `nil`
    /// otherwise (signs, spaces, `+`, anything longer).
    package init?(_ text: String) {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        func number(_ part: Substring, digits: Int) -> Int64? {
            guard !part.isEmpty, part.count <= digits, part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            return Int64(part)
        }
        guard let offset = number(parts[0], digits: 18) else { return nil }
        var sub = 0
        if parts.count == 2 {
            guard let value = number(parts[1], digits: 9) else { return nil }
            sub = Int(value)
        }
        self.init(offset: offset, sub: sub)
    }

    package static func < (lhs: EventPosition, rhs: EventPosition) -> Bool {
        (lhs.offset, lhs.sub) < (rhs.offset, rhs.sub)
    }
}
