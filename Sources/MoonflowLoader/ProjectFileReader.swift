package import Foundation

#if canImport(Glibc)
    import Glibc
    private let systemRead = Glibc.read
#elseif canImport(Darwin)
    import Darwin
    private let systemRead = Darwin.read
#endif

/// The one way Moonflow reads a file of a user's project (docs/reload.md, "Which files are read"): `moonflow.yaml`,
/// `workflows/*.yaml` and `*.test.yaml`, `scripts/*.lua`, `schemas/*.json`.
///
/// The confinement rule, the same for every file:
///
/// - The path is taken relative to the project root, lexically: a `..` that climbs above the root
///   is refused (`outside`) before anything is opened.
/// - The root itself is resolved once (it may be a symbolic link, it is the operator's choice).
///   From there every component is opened with `openat(…, O_NOFOLLOW)`, directory by directory,
///   so **no symbolic link is followed below the root**, not even one that stays inside the
///   project: a link is refused with `symbolicLink`. A swap of a folder for a link between a check
///   and the read cannot redirect the read, because there is no separate check: the descriptor
///   that is read is the one the walk opened.
/// - The last component must be a regular file: it is `lstat`ed first (a FIFO or a device is never
///   opened), opened with `O_NOFOLLOW | O_NONBLOCK`, and `fstat`ed after the open; anything else
///   (a FIFO, a device, a socket, a directory) is refused with `notRegular`.
/// - The size limit is checked on the descriptor's `fstat` size and enforced on the bytes read:
///   a file that grows while it is read is refused when it passes the limit, never read further.
///
/// What it cannot see: a hard link is a regular file like any other, so a hard link to a file
/// outside the project is read (the kernel's `protected_hardlinks` keeps users from linking files
/// they do not own). Keep project directories writable only by the people who may deploy.
package struct ProjectFileReader: Sendable {
    /// The project root as given (standardised, not resolved): paths are made relative to it.
    package let root: URL

    package init(root: URL) {
        self.root = URL(fileURLWithPath: Self.lexicallyNormalized(root.path))
    }

    /// `path` with `.` and `..` removed by text alone (`a/b/../c` → `a/c`). Foundation's
    /// `standardizedFileURL` resolves symbolic links when it meets a `..`, so it cannot be used
    /// for a rule that refuses links.
    package static func lexicallyNormalized(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Why a file was not read. None of them carries any of the file's content.
    package enum Failure: Error, Sendable, Equatable {
        /// The path climbs out of the root.
        case outside
        /// Nothing at that path (or a folder on the way is missing).
        case missing
        /// The file, or a folder on the way (the project-relative path given), is a symbolic link.
        case symbolicLink(String)
        /// A folder on the way is not a directory.
        case notDirectory(String)
        /// The file is not a regular file: "a directory", "a FIFO", "a device", "a socket".
        case notRegular(String)
        /// Larger than the limit (`size` is what `fstat` said, or what was read so far).
        case tooLarge(size: Int, limit: Int)
        /// `open` or `read` failed (permissions, I/O), with the system's reason.
        case unreadable(String)
    }

    /// The path of `url` relative to the root, with `.` and `..` resolved lexically; `nil` when it
    /// climbs out of the root. Lexical resolution is sound here because no link is ever followed
    /// below the root.
    package func relativePath(of url: URL) -> String? {
        // A NUL would cut the name short when it is handed to the system: refused outright.
        guard !url.path.utf8.contains(0) else { return nil }
        let path = Self.lexicallyNormalized(url.path)
        return Self.relative(path, to: root.path) ?? realRoot().flatMap { Self.relative(path, to: $0) }
    }

    /// Reads a file of the project under the confinement rule (see the type's documentation).
    package func read(_ url: URL, maxSize: Int) -> Result<[UInt8], Failure> {
        guard let relative = relativePath(of: url), !relative.isEmpty else { return .failure(.outside) }
        var components = relative.split(separator: "/").map(String.init)
        let name = components.removeLast()
        let directory: Int32
        switch openDirectory(components) {
        case .failure(let failure): return .failure(failure)
        case .success(let fd): directory = fd
        }
        defer { close(directory) }
        var info = stat()
        guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return .failure(Self.failure(errno, at: relative)) }
        if let kind = Self.kind(info.st_mode, at: relative) { return .failure(kind) }
        let fd = openat(directory, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { return .failure(Self.failure(errno, at: relative)) }
        defer { close(fd) }
        // The descriptor is the authority: what was checked above may have been swapped since.
        guard fstat(fd, &info) == 0 else { return .failure(.unreadable(Self.reason(errno))) }
        if let kind = Self.kind(info.st_mode, at: relative) { return .failure(kind) }
        guard Int(info.st_size) <= maxSize else { return .failure(.tooLarge(size: Int(info.st_size), limit: maxSize)) }
        return Self.readAll(fd, maxSize: maxSize)
    }

    /// Whether something (anything, a link included) exists at `url`, without following links.
    package func entryExists(_ url: URL) -> Bool {
        guard let relative = relativePath(of: url), !relative.isEmpty else { return false }
        var components = relative.split(separator: "/").map(String.init)
        let name = components.removeLast()
        guard case .success(let directory) = openDirectory(components) else { return false }
        defer { close(directory) }
        var info = stat()
        return fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0
    }

    /// The names in a folder of the project (hidden ones included; no `.`/`..`), opened under the
    /// same rule as files: a folder that is a symbolic link is refused, never listed.
    package func names(in folder: URL) -> Result<[String], Failure> {
        guard let relative = relativePath(of: folder) else { return .failure(.outside) }
        let fd: Int32
        switch openDirectory(relative.split(separator: "/").map(String.init)) {
        case .failure(let failure): return .failure(failure)
        case .success(let opened): fd = opened
        }
        guard let stream = fdopendir(fd) else {
            let error = errno
            close(fd)
            return .failure(.unreadable(Self.reason(error)))
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return .success(names)
    }

    // MARK: Internals

    private func realRoot() -> String? {
        guard let resolved = realpath(root.path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func relative(_ path: String, to base: String) -> String? {
        if path == base { return "" }
        let prefix = base.hasSuffix("/") ? base : base + "/"
        guard path.hasPrefix(prefix) else { return nil }
        let relative = String(path.dropFirst(prefix.count))
        let parts = relative.split(separator: "/", omittingEmptySubsequences: true)
        guard !parts.contains(where: { $0 == ".." || $0 == "." }) else { return nil }
        return parts.joined(separator: "/")
    }

    /// Opens the root (resolved), then each folder with `O_NOFOLLOW`; returns the last descriptor.
    private func openDirectory(_ components: [String]) -> Result<Int32, Failure> {
        var fd = open(root.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(Self.failure(errno, at: "")) }
        var walked: [String] = []
        for component in components {
            walked.append(component)
            let next = openat(fd, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0 {
                let error = errno
                var info = stat()
                let path = walked.joined(separator: "/")
                let failure: Failure
                if fstatat(fd, component, &info, AT_SYMLINK_NOFOLLOW) == 0 {
                    failure = (info.st_mode & S_IFMT) == S_IFLNK ? .symbolicLink(path) : (info.st_mode & S_IFMT) == S_IFDIR ? Self.failure(error, at: path) : .notDirectory(path)
                } else {
                    failure = Self.failure(error, at: path)
                }
                close(fd)
                return .failure(failure)
            }
            close(fd)
            fd = next
        }
        return .success(fd)
    }

    private static func kind(_ mode: mode_t, at path: String) -> Failure? {
        switch mode & S_IFMT {
        case S_IFREG: nil
        case S_IFLNK: .symbolicLink(path)
        case S_IFDIR: .notRegular("a directory")
        case S_IFIFO: .notRegular("a FIFO")
        case S_IFCHR, S_IFBLK: .notRegular("a device")
        case S_IFSOCK: .notRegular("a socket")
        default: .notRegular("not a regular file")
        }
    }

    private static func failure(_ error: Int32, at path: String) -> Failure {
        switch error {
        case ENOENT: .missing
        case ELOOP: .symbolicLink(path)
        case ENOTDIR: .notDirectory(path)
        default: .unreadable(reason(error))
        }
    }

    private static func reason(_ error: Int32) -> String { String(cString: strerror(error)) }

    /// Reads to the end, never more than `maxSize` bytes (one more to notice a file that grew).
    private static func readAll(_ fd: Int32, maxSize: Int) -> Result<[UInt8], Failure> {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let wanted = min(chunk.count, maxSize + 1 - bytes.count)
            let count = chunk.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, wanted) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(.unreadable(reason(errno)))
            }
            if count == 0 { return .success(bytes) }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > maxSize { return .failure(.tooLarge(size: bytes.count, limit: maxSize)) }
        }
    }
}

extension ProjectFileReader.Failure {
    package var isSymbolicLink: Bool { if case .symbolicLink = self { true } else { false } }

    /// What went wrong, after "the <what> '<path>'", e.g. "is a symbolic link (scripts)".
    package var predicate: String {
        switch self {
        case .outside: "is outside the project directory"
        case .missing: "does not exist"
        case .symbolicLink(let path):
            "is or goes through a symbolic link\(path.isEmpty ? "" : " ('\(path)')"); project files must be regular files inside the project, never links"
        case .notDirectory(let path): "cannot be reached: '\(path)' is not a folder"
        case .notRegular(let kind): "is \(kind), not a regular file"
        case .tooLarge(let size, let limit): "is \(size) bytes, over the limit of \(limit)"
        case .unreadable(let reason): "cannot be read (\(reason))"
        }
    }
}
