import Crypto

/// A manual task's token (docs/engine.md, manual tasks): 128 random bits, the secret a completion link carries.
///
/// Only its SHA-256 is ever kept — in the `task.created` event, so in the journal, the store,
/// histories, reports, the event stream and logs — and anyone who reads those learns nothing
/// that completes the task. Whoever is handed the token when the task is created can prove it
/// with `matches`.
package enum TaskToken {
    /// 128 random bits as hex, from the system generator: a task token must not be guessable, so
    /// it does not come from the engine's injected (reproducible) source.
    package static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// The hex SHA-256 of a token, as kept.
    package static func digest(of token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// Whether `token` is the one whose digest was kept, compared in constant time.
    package static func matches(_ token: String, digest: String) -> Bool {
        let presented = Array(Self.digest(of: token).utf8)
        let kept = Array(digest.utf8)
        guard presented.count == kept.count else { return false }
        var difference: UInt8 = 0
        for index in presented.indices { difference |= presented[index] ^ kept[index] }
        return difference == 0
    }
}

extension TaskRecord {
    /// Whether `token` is this task's token.
    package func hasToken(_ token: String) -> Bool { TaskToken.matches(token, digest: tokenDigest) }
}
