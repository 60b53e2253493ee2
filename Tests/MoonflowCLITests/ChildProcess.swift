import Foundation
import Synchronization

/// A child process run to its end off Swift concurrency's cooperative pool: a thread of its own
/// writes its standard input and waits for its exit while two more read its standard output and
/// standard error — all at once, so a child that fills one pipe while another is being served
/// cannot block — and the awaiting task is resumed when all is done.
///
/// `Process` is not `Sendable`: it is handed to that thread and touched by nothing else after
/// `run` starts it.
final class ChildProcess: @unchecked Sendable {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        /// The watchdog killed it.
        var killed: Bool
    }

    private let process: Process

    init(_ process: Process) { self.process = process }

    /// Starts the child with `stdin` (then closed) and returns its exit status and output; a
    /// child still running after `watchdogSeconds` is killed (SIGKILL).
    func run(stdin: Data?, watchdogSeconds: Int) async throws -> Result {
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        // A child that hangs is killed, so the test fails naming the command instead of stalling the suite.
        let watchdog = Watchdog(pid: process.processIdentifier, after: watchdogSeconds)
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread { [self] in
                let output = PipeReader(out.fileHandleForReading)
                let errors = PipeReader(err.fileHandleForReading)
                // `try?`: a child that exits without reading its input makes the write fail; its
                // status and output tell the test what happened.
                if let stdin { try? input.fileHandleForWriting.write(contentsOf: stdin) }
                try? input.fileHandleForWriting.close()
                let outData = output.wait()
                let errData = errors.wait()
                process.waitUntilExit()
                continuation.resume(
                    returning: Result(
                        status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                        stderr: String(decoding: errData, as: UTF8.self), killed: watchdog.stop()))
            }
        }
    }
}

/// Reads a pipe to its end on a thread of its own.
private final class PipeReader: Sendable {
    private let data = Mutex<Data?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            let read = handle.readDataToEndOfFile()
            data.withLock { $0 = read }
            done.signal()
        }
    }

    /// Everything it read, once the writer closed the pipe.
    func wait() -> Data {
        done.wait()
        return data.withLock { $0 } ?? Data()
    }
}
