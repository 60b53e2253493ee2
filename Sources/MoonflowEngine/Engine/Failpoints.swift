import Foundation

/// Test seams that kill the process at a named point (`_exit(137)`, as `kill -9` would leave it),
/// so crash tests choose the moment (docs/testing.md). Off unless the composition root reads
/// `MOONFLOW_FAILPOINTS=name[:activity],…`. Names:
/// - `before_commit:<event>` / `after_commit:<event>`: around the store write of a transition
///   holding an event of that type, dots as underscores (`activity_completed`,
///   `compensation_completed`, `run_queued`…);
/// - `during:activity_body` / `during:compensation_body`: as a body attempt starts, after its
///   `activity.started` (or `compensation.started`) was committed.
/// With `:activity`, only for that activity (the activity undone, for compensations).
package struct Failpoints: Sendable, Hashable {
    package enum Moment: String, Sendable {
        case beforeCommit = "before_commit"
        case afterCommit = "after_commit"
        case during
    }

    private struct Point: Hashable {
        var name: String
        var activity: String?
    }

    private let points: Set<Point>

    package static let none = Failpoints("")

    /// Parses `name[:activity],…`; a name is `moment:what`.
    package init(_ specification: String) {
        points = Set(
            specification.split(separator: ",").compactMap { item in
                let parts = item.trimmingCharacters(in: .whitespaces).split(separator: ":", maxSplits: 2).map(String.init)
                guard parts.count >= 2 else { return nil }
                return Point(name: "\(parts[0]):\(parts[1])", activity: parts.count == 3 ? parts[2] : nil)
            })
    }

    package var isEmpty: Bool { points.isEmpty }

    /// Dies here when a point for `moment:what` (and this activity, or any) is set.
    func reach(_ moment: Moment, _ what: String, activity: String?) {
        guard !points.isEmpty else { return }
        let name = "\(moment.rawValue):\(what)"
        if points.contains(Point(name: name, activity: nil)) || points.contains(Point(name: name, activity: activity)) {
            _exit(137)
        }
    }

    /// Around the commit of one transition.
    func reach(_ moment: Moment, of events: [RunEvent]) {
        guard !points.isEmpty else { return }
        for event in events {
            reach(moment, event.type.rawValue.replacingOccurrences(of: ".", with: "_"), activity: event.activity)
        }
    }
}
