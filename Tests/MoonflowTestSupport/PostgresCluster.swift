package import Foundation
import Synchronization

/// A throwaway PostgreSQL cluster for the tests (never a server the machine already runs): `initdb`
/// in a temporary folder — as the `postgres` user when the tests run as root, since PostgreSQL
/// refuses to run as root — on a free loopback port, started with `pg_ctl`. One cluster serves a
/// whole test process; each test takes a database of its own (`createDatabase`). A watchdog
/// process stops the cluster (`pg_ctl stop`) and removes its folder once the test process is gone,
/// however it ended.
package final class PostgresCluster: Sendable {
    /// Why the tests that need PostgreSQL cannot run.
    package struct Unavailable: Error, CustomStringConvertible {
        package var description: String
    }

    package let host = "127.0.0.1"
    package let port: Int
    package let user = "moonflow"
    package let password: String
    package let binaries: URL
    let folder: URL
    private let databases = Atomic<Int>(0)

    /// The folder of `initdb`, `pg_ctl` and `psql`: the newest Debian install
    /// (`/usr/lib/postgresql/<major>/bin`), else the one `initdb` on `PATH` sits in.
    package static let binaryFolder: URL? = {
        let debian = URL(fileURLWithPath: "/usr/lib/postgresql")
        let majors = ((try? FileManager.default.contentsOfDirectory(atPath: debian.path)) ?? []).compactMap(Int.init).sorted()
        for major in majors.reversed() {
            let folder = debian.appendingPathComponent("\(major)/bin")
            if FileManager.default.isExecutableFile(atPath: folder.appendingPathComponent("initdb").path) { return folder }
        }
        for entry in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let initdb = URL(fileURLWithPath: String(entry)).appendingPathComponent("initdb").resolvingSymlinksInPath()
            if FileManager.default.isExecutableFile(atPath: initdb.path) { return initdb.deletingLastPathComponent() }
        }
        return nil
    }()

    /// Whether PostgreSQL's server programs are installed (`make test` installs Debian's `postgresql`).
    package static var installed: Bool { binaryFolder != nil }

    package static let notInstalled =
        "PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or on PATH; make test installs the Debian package postgresql): skipped"

    /// The cluster of this test process, started on first use.
    package static func shared() async throws -> PostgresCluster {
        try await sharedStart.value
    }

    private static let sharedStart = Task { try await PostgresCluster.start() }

    private init(binaries: URL, folder: URL, port: Int, password: String) {
        self.binaries = binaries
        self.folder = folder
        self.port = port
        self.password = password
    }

    private static func start() async throws -> PostgresCluster {
        guard let binaries = binaryFolder else { throw Unavailable(description: notInstalled) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("moonflow-pg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let password = UUID().uuidString
        try Data(password.utf8).write(to: folder.appendingPathComponent("password"))
        if getuid() == 0 { try await Shell.run("/bin/chown", ["-R", "postgres:postgres", folder.path]) }
        let data = folder.appendingPathComponent("data").path
        try await Shell.run(
            binaries.appendingPathComponent("initdb").path,
            [
                "-D", data, "-U", "moonflow", "--pwfile", folder.appendingPathComponent("password").path, "-A", "scram-sha-256",
                "-E", "UTF8", "--locale", "C.UTF-8", "--no-sync",
            ], asServer: true)
        var lastFailure: (any Error)?
        // A port found free may be taken before the server binds it: try a few.
        for _ in 0..<5 {
            let port = try freeLoopbackPort()
            let cluster = PostgresCluster(binaries: binaries, folder: folder, port: port, password: password)
            do {
                try await Shell.run(
                    binaries.appendingPathComponent("pg_ctl").path,
                    [
                        "-D", data, "-l", folder.appendingPathComponent("server.log").path, "-w", "-t", "60", "-o",
                        "-p \(port) -k \(data) -c listen_addresses=127.0.0.1 -c max_connections=300", "start",
                    ], asServer: true)
                try cluster.startWatchdog()
                return cluster
            } catch {
                lastFailure = error
            }
        }
        throw lastFailure ?? Unavailable(description: "the test cluster did not start")
    }

    /// A process, not of this test process's group, that waits for this process to end, then
    /// stops the cluster and removes its folder.
    private func startWatchdog() throws {
        let pgCtl = binaries.appendingPathComponent("pg_ctl").path
        let data = folder.appendingPathComponent("data").path
        let stop = Shell.serverCommand([pgCtl, "-D", data, "-m", "immediate", "-w", "stop"]).map(Shell.quoted).joined(separator: " ")
        let script = """
            while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done
            \(stop)
            rm -rf \(Shell.quoted(folder.path))
            """
        _ = try Shell.spawn(["/usr/bin/setsid", "/bin/sh", "-c", script])
    }

    /// A new, empty database on this cluster; returns its URL (`postgres://user:password@host:port/name`).
    package func createDatabase() async throws -> String {
        let name = "test_\(getpid())_\(databases.add(1, ordering: .relaxed).newValue)"
        try await psql("CREATE DATABASE \(name)")
        return url(database: name)
    }

    /// The URL of `database` on this cluster, without a password when `withPassword` is false.
    package func url(database: String, withPassword: Bool = true) -> String {
        "postgres://\(user)\(withPassword ? ":\(password)" : "")@\(host):\(port)/\(database)"
    }

    /// Runs one SQL command with `psql` (on database `postgres` unless told), returning what it printed.
    @discardableResult
    package func psql(_ sql: String, database: String = "postgres") async throws -> String {
        try await Shell.run(
            binaries.appendingPathComponent("psql").path,
            ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", "\(port)", "-U", user, "-d", database, "-c", sql],
            environment: ["PGPASSWORD": password])
    }

    /// The server's log so far, for a failing test to show.
    package var serverLog: String {
        (try? String(contentsOf: folder.appendingPathComponent("server.log"), encoding: .utf8)) ?? ""
    }
}

/// A port on 127.0.0.1 nothing listens on now (bound to port 0, then let go).
package func freeLoopbackPort() throws -> Int {
    let socket = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socket >= 0 else { throw PostgresCluster.Unavailable(description: "socket(): errno \(errno)") }
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
            bind(socket, generic, length) == 0 && getsockname(socket, generic, &length) == 0
        }
    }
    guard bound else { throw PostgresCluster.Unavailable(description: "no free loopback port: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Runs the cluster's programs with `posix_spawn` and waits for them with `waitpid` on a dispatch
/// thread, off the cooperative pool (Foundation's `Process` did not always see `pg_ctl` exit).
package enum Shell {
    /// The command as the server's user: `postgres` when this process is root, else this user.
    static func serverCommand(_ command: [String]) -> [String] {
        getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] + command : command
    }

    static func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// Runs the command to its end; what it printed (standard output and error) when it exits 0.
    @discardableResult
    package static func run(_ executable: String, _ arguments: [String], asServer: Bool = false, environment: [String: String] = [:]) async throws
        -> String
    {
        let command = asServer ? serverCommand([executable] + arguments) : [executable] + arguments
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("moonflow-sh-\(UUID().uuidString)").path
        defer { unlink(output) }
        let pid = try spawn(command, output: output, environment: environment)
        let status = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                continuation.resume(returning: status)
            }
        }
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw PostgresCluster.Unavailable(description: "\(command.joined(separator: " ")) failed (wait status \(status)): \(text)")
        }
        return text
    }

    /// Starts the command with standard input from /dev/null and its output to `output` (a file),
    /// or to /dev/null; returns its process id.
    static func spawn(_ command: [String], output: String = "/dev/null", environment: [String: String] = [:]) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let variables = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }.map { "\($0)=\($1)" }
        var argv = command.map { strdup($0) } + [nil]
        var envp = variables.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, command[0], &actions, nil, &argv, &envp)
        guard result == 0 else {
            throw PostgresCluster.Unavailable(description: "cannot start \(command[0]): \(String(cString: strerror(result)))")
        }
        return pid
    }
}
