import Foundation
import GRDB
import Synchronization

/// The single-owner lock: an exclusive, non-blocking `flock` on a file beside the database, held
/// for the store's life. `flock` (not SQLite's `locking_mode=EXCLUSIVE`) because it also refuses
/// a second process that would only read, says clearly who holds the file, and is released by the
/// kernel when the owner dies, even by `kill -9`.
final class OwnerLock: Sendable {
    /// The locked file, until `release` (then -1).
    private let descriptor: Mutex<Int32>

    init(path: String, storePath: String) throws(StoreOpenError) {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw .cannotOpen(path: storePath, detail: "cannot open the lock file \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(descriptor)
            if code == EWOULDBLOCK { throw .inUse(path: storePath) }
            throw .cannotOpen(path: storePath, detail: "cannot lock \(path): \(String(cString: strerror(code)))")
        }
        self.descriptor = Mutex(descriptor)
    }

    /// Unlocks the store now rather than when the last reference goes.
    func release() {
        descriptor.withLock { descriptor in
            if descriptor >= 0 { close(descriptor) }
            descriptor = -1
        }
    }

    deinit { release() }
}

/// Checks an existing store file before anything may write to it: the SQLite header, then
/// `PRAGMA quick_check` on a connection that only reads. A file that fails is refused untouched.
enum StoreFileCheck {
    static let header = Array("SQLite format 3\0".utf8)

    static func check(_ path: String) throws(StoreOpenError) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return }  // a new store
        let start = (try? handle.read(upToCount: 100)) ?? Data()
        try? handle.close()
        if start.isEmpty { return }
        guard start.count == 100, Array(start.prefix(header.count)) == header else {
            throw .corrupt(path: path, detail: "not a SQLite database: the header is wrong")
        }
        let problems: [String]
        do {
            var configuration = Configuration()
            configuration.readonly = true
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            problems = try queue.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
        } catch {
            throw .corrupt(path: path, detail: "\(error)")
        }
        guard problems == ["ok"] else {
            throw .corrupt(path: path, detail: "quick_check: " + problems.prefix(3).joined(separator: "; "))
        }
    }
}
