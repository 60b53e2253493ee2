internal import CLuaSupport
import Dispatch
import MoonflowModel
import Synchronization

extension LuaHost {
    /// How often a script waiting on a request checks its deadline and cancellation.
    static let requestPoll: DispatchTimeInterval = .milliseconds(5)

    /// `http.request{connection, method, path, query, headers, json | body, timeout}`
    /// (docs/integrations.md): `{status, headers, json | body}` for every status; the connector's
    /// typed failures raised as error tables. The script's thread waits for the answer, polling
    /// the execution's deadline and cancellation: either cancels the request and stops the script.
    func httpRequest(_ L: OpaquePointer, _ arguments: Arguments) throws(ActivityFailure) -> Answer {
        if isReplaying {
            // A replay reaches no service: the recorded answer, in order.
            _ = try arguments.value(1, root: "http.request", budget: hostRemaining)
            guard let recorded = replayedResponse() else { return .message("http.request: the replay has no more recorded answers") }
            if let error = recorded["error"], recorded.objectValue?.count == 1 { return .raise(error) }
            return .values([recorded])
        }
        guard let http else { return .message("http.request: this engine has no connections") }
        guard let key = idempotencyKey else { return .message("http.request: only code actions may make requests") }
        let given = try arguments.value(1, root: "http.request", budget: hostRemaining)
        let request = try HTTPCall(given, idempotencyKey: "\(key):\(countRequest())", parseDuration: LuaDuration.parse)
        let outcome = Mutex<Result<HTTPCallResponse, ActivityFailure>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let task = Task.detached {
            let result: Result<HTTPCallResponse, ActivityFailure>
            do throws(ActivityFailure) { result = .success(try await http.call(request)) } catch { result = .failure(error) }
            outcome.withLock { $0 = result }
            done.signal()
        }
        while done.wait(timeout: .now() + Self.requestPoll) == .timedOut {
            if mf_host_poll(L) != 0 {
                task.cancel()
                done.wait()
                return .message("interrupted")
            }
        }
        switch outcome.withLock({ $0 })! {
        case .success(let response):
            let value = response.value
            if let refused = transient(value.jsonString().utf8.count, "http.request") { return refused }
            recordResponse(value)
            return .values([value])
        case .failure(let failure):
            var error: Value = ["type": .string(failure.type.rawValue), "message": .string(failure.message)]
            if failure.retryable == false { error = error.adding("retryable", false) }
            if let details = failure.details { error = error.adding("details", details) }
            if failure.type != .cancelled { recordResponse(["error": error]) }
            return .raise(error)
        }
    }
}

/// Durations a script writes (`5s`, `500ms`, `2m`).
enum LuaDuration {
    static func parse(_ text: String) -> Duration? {
        let units: [(String, Double)] = [("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, seconds) in units where text.hasSuffix(suffix) {
            guard let number = Double(text.dropLast(suffix.count)), number >= 0 else { return nil }
            return .milliseconds(Int64((number * seconds * 1000).rounded()))
        }
        return nil
    }
}

extension Value {
    fileprivate func adding(_ key: String, _ value: Value) -> Value {
        guard case .object(var object) = self else { return self }
        object[key] = value
        return .object(object)
    }
}
