import Crypto
package import MoonflowModel

/// Every run id the engine makes itself, in one place. Each has a form `RunIDRule` refuses, so no
/// caller can create a run under it beforehand (and have the engine adopt it as a child's result,
/// or take a schedule tick's place):
///
/// - a child run of a `type: workflow` activity: `<parent>/<activity>` (contains `/`);
/// - a schedule tick: `@schedule:<workflow>:<unix seconds>`;
/// - a run an event started with a dedupe key (or an event id): `@event:<workflow>:<32 hex digits>`,
///   a SHA-256 of the workflow and the key, so no payload text ever becomes part of an id.
///
/// A run without a caller-given id gets a random UUID, which nobody can predict.
package enum EngineRunID {
    package static func child(of parent: RunID, activity: String) -> RunID { "\(parent)/\(activity)" }

    package static func scheduleTick(workflow: String, tick: Timestamp) -> RunID {
        let seconds = tick.nanosecondsSinceEpoch / 1_000_000_000
        return "@schedule:\(workflow):\(seconds)"
    }

    package static func event(workflow: String, key: String) -> RunID {
        "@event:\(workflow):" + hex(SHA256.hash(data: Array("\(workflow)\u{0}\(key)".utf8)).prefix(16))
    }

    /// Whether `id` has a form only the engine makes (a caller may still read or cancel such a run).
    package static func isEngineMade(_ id: RunID) -> Bool { id.hasPrefix("@") || id.contains("/") }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
