import Foundation

/// An answer read off a raw connection: the status, the header fields as sent, and the body.
struct RawAnswer: Sendable, CustomStringConvertible {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: String

    func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }

    var description: String { "\(status) \(headers.map { "\($0.name): \($0.value)" }) \(body.prefix(300))" }
}

extension RawConnection {
    /// The head of the next answer (up to its blank line), body not read: for `HEAD`, whose answer
    /// has none whatever its `Content-Length` says, and for `100 Continue`.
    func readHead() async -> RawAnswer { await offThePool { self.readHeadNow() } }

    /// The next answer: its head, then `Content-Length` bytes of body (or none).
    func readAnswer() async -> RawAnswer {
        await offThePool {
            var answer = self.readHeadNow()
            let length = answer.header("Content-Length").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } ?? 0
            answer.body = self.readBytesNow(length)
            return answer
        }
    }

    /// Whatever arrives within `timeout` (a body a `HEAD` answer must not have, for instance).
    func readAvailable(within timeout: Duration) async -> String {
        await offThePool {
            var data = [UInt8]()
            let deadline = ContinuousClock.now + timeout
            var chunk = [UInt8](repeating: 0, count: 4096)
            while ContinuousClock.now < deadline {
                var poller = pollfd(fd: self.fd, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 50) > 0 else { continue }
                let count = chunk.withUnsafeMutableBytes { recv(self.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                guard count > 0 else { break }
                data.append(contentsOf: chunk[0..<count])
            }
            return String(decoding: data, as: UTF8.self)
        }
    }

    private func readHeadNow() -> RawAnswer {
        var data = [UInt8]()
        var byte: UInt8 = 0
        let end = Array("\r\n\r\n".utf8)
        while data.count < end.count || Array(data.suffix(end.count)) != end {
            guard recv(fd, &byte, 1, 0) == 1 else { break }
            data.append(byte)
        }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\r\n")
        let status = lines.first?.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? 0
        let headers = lines.dropFirst().compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return RawAnswer(status: status, headers: headers, body: "")
    }

    private func readBytesNow(_ length: Int) -> String {
        var body = [UInt8](repeating: 0, count: length)
        var received = 0
        while received < length {
            let count = body[received...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            received += count
        }
        return String(decoding: body[0..<received], as: UTF8.self)
    }
}
