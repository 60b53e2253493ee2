internal import CIsolation
import Dispatch
import Foundation
import MoonflowModel
import OrderedCollections

/// `moonflow sandbox-helper`, the hidden subcommand a `ProcessScriptRunner` starts: hardens the
/// process, then runs the code actions its engine sends, one at a time, in one `LuaSandbox`
/// (docs/sandbox.md, "The second wall").
package enum SandboxHelper {
    /// The subcommand's name.
    package static let command = "sandbox-helper"

    /// What the engine passes on the command line (the environment is empty).
    struct Arguments {
        var parent: pid_t = 0
        /// Bytes of address space allowed beyond what the helper maps when it hardens.
        var addressSpace: UInt64 = 0
        var testLedger = false

        init(parent: pid_t, addressSpace: UInt64, testLedger: Bool) {
            self.parent = parent
            self.addressSpace = addressSpace
            self.testLedger = testLedger
        }

        init(_ arguments: [String]) {
            var iterator = arguments.makeIterator()
            while let argument = iterator.next() {
                switch argument {
                case "--parent": parent = iterator.next().flatMap { pid_t($0) } ?? 0
                case "--address-space": addressSpace = iterator.next().flatMap { UInt64($0) } ?? 0
                case "--test-ledger": testLedger = true
                default: break
                }
            }
        }

        var list: [String] {
            ["--parent", String(parent), "--address-space", String(addressSpace)] + (testLedger ? ["--test-ledger"] : [])
        }
    }

    /// Runs the helper; never returns. Exits 0 when the engine closes the socket, 70 when it cannot
    /// harden itself (the engine sees the socket close before `hello`).
    package static func main(arguments: [String]) -> Never {
        let options = Arguments(arguments)
        guard options.parent > 0 else { exit(64) }
        let session = HelperSession(testLedger: options.testLedger)
        session.warmUp()
        let baseline = mf_iso_address_space()
        guard mf_iso_harden(options.parent, options.addressSpace == 0 ? 0 : baseline + options.addressSpace) == 0,
            mf_iso_install_seccomp() == 0
        else { exit(70) }
        session.serve()
    }
}

/// The helper's side of the socket. Used by the helper's main thread, and by the task that makes
/// an `http.request` for it while that thread waits (`LuaHost.httpRequest`): one at a time.
final class HelperSession: @unchecked Sendable {
    private let channel = FrameChannel(descriptor: HelperProtocol.helperDescriptor, maxFrame: Int(Int32.max))
    private var sandbox: LuaSandbox?
    private let testLedger: Bool

    init(testLedger: Bool) {
        self.testLedger = testLedger
    }

    private func makeSandbox() -> LuaSandbox? {
        let ledger = testLedger ? LuaTestLedger(forward: { [unowned self] tag, activity in self.forwardLedger(tag: tag, activity: activity) }) : nil
        return try? LuaSandbox(testLedger: ledger)
    }

    /// Before the filter is on: the first execution and the first task touch what the runtime
    /// loads or creates once (threads, descriptors), which the filter and limits would refuse later.
    func warmUp() {
        sandbox = makeSandbox()
        _ = try? sandbox?.run(ScriptInvocation(chunk: ScriptChunk(source: "return hash.sha256(uuid())", name: "warm-up")))
        let done = DispatchSemaphore(value: 0)
        Task.detached { done.signal() }
        done.wait()
        _ = Date()
    }

    func serve() -> Never {
        channel.writer.begin(.hello)
        channel.writer.u32(HelperProtocol.version)
        channel.writer.u32(UInt32(bitPattern: getpid()))
        guard channel.send() else { exit(0) }
        while true {
            switch channel.receive(deadline: 0) {
            case .frame(.run, let payload):
                let request: HelperRequest
                do throws(FrameError) {
                    var reader = FrameReader(payload, maxDepth: 1 << 10)
                    request = try HelperRequest(&reader)
                } catch {
                    exit(65)
                }
                execute(request)
            case .frame(.probe, let payload):
                var reader = FrameReader(payload, maxDepth: 1)
                let which = (try? reader.string()) ?? ""
                let result = mf_iso_forbidden_call(which)
                channel.writer.begin(.failed)
                channel.writer.failure(ActivityFailure(.activityError, "\(which) returned \(result)"))
                channel.writer.bool(false)
                channel.writer.u64(mf_iso_peak_rss())
                channel.writer.recording(nil)
                guard channel.send() else { exit(0) }
            case .frame:
                exit(65)
            case .closed, .late, .malformed:
                exit(0)
            }
        }
    }

    private func execute(_ request: HelperRequest) {
        var invocation = request.invocation
        invocation.logSink = { [unowned self] entry in self.sendLog(entry) }
        if request.hasHTTP { invocation.http = HelperHTTP(session: self) }
        let recorded = request.records ? RecordingBox() : nil
        if let recorded { invocation.recordingSink = { recording in recorded.recording = recording } }
        let timeout = invocation.limits.timeout ?? .seconds(60)
        mf_iso_cpu_budget(UInt64(timeout.components.seconds) + 1)
        let deadline = mf_iso_now_ns() &+ request.remaining
        let result: Result<ScriptOutcome, ActivityFailure>
        if sandbox == nil { sandbox = makeSandbox() }
        if let sandbox {
            do throws(ActivityFailure) {
                result = .success(try sandbox.run(invocation, interrupt: nil, deadline: deadline))
            } catch {
                result = .failure(error)
            }
        } else {
            result = .failure(ActivityFailure(.sandboxCrashed, "the helper could not create a Lua state"))
        }
        let tripped = sandbox?.isUsable != true
        if tripped { sandbox = nil }
        switch result {
        case .success(let outcome):
            channel.writer.begin(.done)
            channel.writer.value(outcome.output)
            channel.writer.object(outcome.contextWrites)
            channel.writer.u32(UInt32(outcome.events.count))
            for event in outcome.events {
                channel.writer.string(event.type)
                channel.writer.value(event.payload)
            }
        case .failure(let failure):
            channel.writer.begin(.failed)
            channel.writer.failure(failure)
            channel.writer.bool(tripped)
        }
        channel.writer.u64(mf_iso_peak_rss())
        channel.writer.recording(recorded?.recording)
        guard channel.send() else { exit(0) }
        channel.trim()
    }

    private func sendLog(_ entry: ScriptLogEntry) {
        channel.writer.begin(.log)
        channel.writer.string(entry.level)
        channel.writer.string(entry.message)
        channel.writer.value(entry.fields)
        guard channel.send() else { exit(0) }
    }

    private func forwardLedger(tag: String, activity: Value) -> String? {
        channel.writer.begin(.ledger)
        channel.writer.string(tag)
        channel.writer.value(activity)
        guard channel.send() else { exit(0) }
        guard case .frame(.ledgerAnswer, let payload) = channel.receive(deadline: 0) else { exit(65) }
        var reader = FrameReader(payload, maxDepth: 1)
        do throws(FrameError) {
            return try reader.optionalString()
        } catch {
            exit(65)
        }
    }

    /// `http.request` through the engine: the request out, the response or typed failure back.
    fileprivate func forwardHTTP(_ request: HTTPCall) throws(ActivityFailure) -> HTTPCallResponse {
        channel.writer.begin(.http)
        channel.writer.httpCall(request)
        guard channel.send() else { exit(0) }
        guard case .frame(.httpAnswer, let payload) = channel.receive(deadline: 0) else { exit(65) }
        var reader = FrameReader(payload, maxDepth: 1 << 10)
        guard let succeeded = try? reader.bool() else { exit(65) }
        if succeeded {
            guard let response = try? reader.httpResponse() else { exit(65) }
            return response
        }
        guard let failure = try? reader.failure() else { exit(65) }
        throw failure
    }
}

/// The `HTTPCalling` a helper's scripts see: the engine's, over the socket.
private struct HelperHTTP: HTTPCalling {
    let session: HelperSession

    func call(_ request: HTTPCall) async throws(ActivityFailure) -> HTTPCallResponse {
        try session.forwardHTTP(request)
    }
}

/// Where the helper's sandbox leaves an execution's recording (on the helper's one thread).
private final class RecordingBox: @unchecked Sendable {
    var recording: ScriptRecording?
}

/// A `run` frame, read.
struct HelperRequest {
    var invocation: ScriptInvocation
    /// Nanoseconds left until the execution's deadline when the engine sent it.
    var remaining: UInt64
    var hasHTTP: Bool
    /// Whether the engine wants the execution's recording back (it has a `recordingSink`).
    var records: Bool

    init(_ reader: inout FrameReader) throws(FrameError) {
        var limits = ScriptLimits()
        limits.memory = Int(try reader.i64())
        limits.instructions = Int(try reader.i64())
        limits.timeout = try reader.duration()
        limits.outputSize = Int(try reader.i64())
        limits.sourceSize = Int(try reader.i64())
        limits.valueDepth = Int(try reader.i64())
        limits.hostMemory = Int(try reader.i64())
        remaining = try reader.u64()
        let role: BodyRole = try reader.u8() == 1 ? .compensation : .activity
        hasHTTP = try reader.bool()
        let source = try reader.string()
        let name = try reader.string()
        let firstLine = Int(try reader.i64())
        let input = try reader.value()
        let context = try reader.object()
        let steps = try reader.value()
        let activity = try reader.value()
        let event = try reader.optionalValue()
        records = try reader.bool()
        let replay = try reader.recording()
        guard reader.isAtEnd else { throw FrameError(message: "bytes after the replay") }
        invocation = ScriptInvocation(
            chunk: ScriptChunk(source: source, name: name, firstLine: firstLine), input: input, context: context, steps: steps,
            activity: activity, event: event, limits: limits, role: role)
        invocation.replay = replay
    }

    /// Writes the frame of `invocation` (the engine's side).
    static func write(_ invocation: ScriptInvocation, remaining: UInt64, into writer: inout FrameWriter) {
        let limits = invocation.limits
        writer.begin(.run)
        writer.i64(Int64(limits.memory))
        writer.i64(Int64(limits.instructions))
        writer.duration(limits.timeout)
        writer.i64(Int64(limits.outputSize))
        writer.i64(Int64(limits.sourceSize))
        writer.i64(Int64(limits.valueDepth))
        writer.i64(Int64(limits.hostMemory))
        writer.u64(remaining)
        writer.u8(invocation.role == .compensation ? 1 : 0)
        writer.bool(invocation.http != nil)
        writer.string(invocation.chunk.source)
        writer.string(invocation.chunk.name)
        writer.i64(Int64(invocation.chunk.firstLine))
        writer.value(invocation.input)
        writer.object(invocation.context)
        writer.value(invocation.steps)
        writer.value(invocation.activity)
        writer.optionalValue(invocation.event)
        writer.bool(invocation.recordingSink != nil)
        writer.recording(invocation.replay)
    }
}

extension FrameWriter {
    mutating func httpCall(_ request: HTTPCall) {
        string(request.connection)
        string(request.method)
        string(request.path)
        object(request.query.mapValues(Value.string))
        object(request.headers.mapValues(Value.string))
        switch request.body {
        case .none: u8(0)
        case .json(let json):
            u8(1)
            value(json)
        case .text(let text):
            u8(2)
            string(text)
        }
        duration(request.timeout)
        string(request.idempotencyKey)
    }

    mutating func httpResponse(_ response: HTTPCallResponse) {
        i64(Int64(response.status))
        object(response.headers.mapValues(Value.string))
        switch response.body {
        case .json(let json):
            u8(1)
            value(json)
        case .text(let text):
            u8(2)
            string(text)
        }
        duration(response.retryAfter)
    }
}

extension FrameReader {
    private mutating func texts() throws(FrameError) -> OrderedDictionary<String, String> {
        try object().mapValues { $0.stringValue ?? "" }
    }

    mutating func httpCall() throws(FrameError) -> HTTPCall {
        let connection = try string()
        let method = try string()
        let path = try string()
        let query = try texts()
        let headers = try texts()
        let body: HTTPCall.Body =
            switch try u8() {
            case 1: .json(try value())
            case 2: .text(try string())
            default: .none
            }
        let timeout = try duration()
        let key = try string()
        return HTTPCall(
            connection: connection, method: method, path: path, query: query, headers: headers, body: body, timeout: timeout,
            idempotencyKey: key)
    }

    mutating func httpResponse() throws(FrameError) -> HTTPCallResponse {
        let status = Int(try i64())
        let headers = try texts()
        let body: HTTPCallResponse.Body = try u8() == 1 ? .json(try value()) : .text(try string())
        return HTTPCallResponse(status: status, headers: headers, body: body, retryAfter: try duration())
    }
}
