import Foundation

/// A TCP connection made by hand, for what an HTTP client library will not do: send any `Host`,
/// stay silent, send a request slowly, or never read the answer.
final class RawConnection: @unchecked Sendable {
    // @unchecked: one test task uses a connection at a time; `fd` is only closed in `deinit`/`close`.
    private(set) var fd: Int32

    /// Connects to 127.0.0.1:`port`. `receiveBuffer` shrinks the socket's receive buffer first, so
    /// that a connection that never reads stalls its writer early. `blocking: false` does not wait
    /// for the handshake (for opening thousands at once).
    init(port: Int, receiveBuffer: Int32? = nil, blocking: Bool = true) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawError("socket: errno \(errno)") }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if !blocking { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 || (!blocking && errno == EINPROGRESS) else {
            let code = errno
            Glibc.close(fd)
            throw RawError("connect: errno \(code)")
        }
    }

    deinit { close() }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    func send(_ text: String) throws {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw RawError("send: errno \(errno)") }
            bytes = bytes.dropFirst(sent)
        }
    }

    /// Everything until the server closes the connection (or `limit` bytes, or the 10 s timeout).
    func readAll(limit: Int = 64 << 20) async -> String { await offThePool { self.readAllNow(limit: limit) } }

    private func readAllNow(limit: Int) -> String {
        var data = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while data.count < limit {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            data.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Whether the server closed the connection (a read returns end of file or a reset) within `timeout`.
    func isClosedByPeer(within timeout: Duration) async -> Bool { await offThePool { self.isClosedByPeerNow(within: timeout) } }

    private func isClosedByPeerNow(within timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        var byte: UInt8 = 0
        while ContinuousClock.now < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 100)
            if ready > 0 {
                let count = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
                if count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { return true }
            }
        }
        return false
    }

    /// One request on a new connection; the status and the body of the answer (read by its
    /// `Content-Length`, so a server that closes after answering cannot reset it away first).
    static func request(
        port: Int, _ method: String, _ path: String, headers: [(String, String)] = [], body: String? = nil
    ) async throws -> (status: Int, text: String) {
        let headers = headers.map { [$0.0, $0.1] }
        return try await offThePool { try requestNow(port: port, method, path, headers: headers.map { ($0[0], $0[1]) }, body: body) }
    }

    private static func requestNow(
        port: Int, _ method: String, _ path: String, headers: [(String, String)], body: String?
    ) throws -> (status: Int, text: String) {
        let connection = try RawConnection(port: port)
        var head = "\(method) \(path) HTTP/1.1\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Length: \(body.utf8.count)\r\n" }
        try connection.send(head + "\r\n" + (body ?? ""))
        return connection.readResponse()
    }

    /// One answer: up to the end of its head, then `Content-Length` bytes.
    func readResponse() -> (status: Int, text: String) {
        var data = [UInt8]()
        var byte: UInt8 = 0
        while !data.ends(with: Array("\r\n\r\n".utf8)) {
            guard recv(fd, &byte, 1, 0) == 1 else { break }
            data.append(byte)
        }
        let head = String(decoding: data, as: UTF8.self)
        let status = head.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? 0
        let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        var body = [UInt8](repeating: 0, count: length)
        var received = 0
        while received < length {
            let count = body[received...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            received += count
        }
        return (status, String(decoding: body[0..<received], as: UTF8.self))
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}

/// Runs blocking socket calls on a thread of their own: blocked on the cooperative pool (two
/// threads here) they would starve the server's handlers, which run on it too.
func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

func offThePool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: body()) }
    }
}

struct RawError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The resident set of this process, in bytes (`VmRSS` of `/proc/self/status`).
func residentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
    else { return 0 }
    return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
}
