package import MoonflowModel
package import OrderedCollections

/// What a replay of one recorded attempt found (`moonflow runs replay`, docs/operations.md).
package struct ReplayResult: Sendable, Hashable {
    /// How an attempt ended: its output and context writes, or its error.
    package struct Outcome: Sendable, Hashable {
        package var output: Value?
        package var contextWrites: OrderedDictionary<String, Value>
        package var error: ActivityFailure?

        package func toValue() -> Value {
            if let error { return ["error": error.toValue()] }
            return ["output": output ?? .null, "context_writes": .object(contextWrites)]
        }
    }

    package var activity: String
    package var attempt: Int
    package var recorded: Outcome
    package var replayed: Outcome
    /// The recording was cut at its bound: the replay cannot be exact.
    package var truncated: Bool

    /// The same output and context writes (or the same error type and message).
    package var isEqual: Bool {
        if let recordedError = recorded.error, let replayedError = replayed.error {
            return recordedError.type == replayedError.type && recordedError.message == replayedError.message
        }
        return recorded.error == nil && replayed.error == nil && recorded.output == replayed.output
            && recorded.contextWrites == replayed.contextWrites
    }

    /// One line per difference: `output`, each context key written, or the error.
    package var differences: [String] {
        guard !isEqual else { return [] }
        if recorded.error != nil || replayed.error != nil {
            return ["outcome: recorded \(recorded.toValue().jsonString()), replayed \(replayed.toValue().jsonString())"]
        }
        var lines: [String] = []
        if recorded.output != replayed.output {
            lines.append("output: recorded \((recorded.output ?? .null).jsonString()), replayed \((replayed.output ?? .null).jsonString())")
        }
        var keys = Array(recorded.contextWrites.keys)
        for key in replayed.contextWrites.keys where !keys.contains(key) { keys.append(key) }
        for key in keys where recorded.contextWrites[key] != replayed.contextWrites[key] {
            let before = recorded.contextWrites[key].map { $0.jsonString() } ?? "(not written)"
            let after = replayed.contextWrites[key].map { $0.jsonString() } ?? "(not written)"
            lines.append("workflow.\(key): recorded \(before), replayed \(after)")
        }
        return lines
    }

    package func toValue() -> Value {
        [
            "activity": .string(activity), "attempt": .int(Int64(attempt)), "equal": .bool(isEqual), "truncated": .bool(truncated),
            "recorded": recorded.toValue(), "replayed": replayed.toValue(), "differences": .array(differences.map(Value.string)),
        ]
    }
}

extension Engine {
    /// Runs one attempt of a code action again, offline, in the sandbox: with the input, context,
    /// `steps` and `activity` fields it had, and the recorded answers of its non-deterministic
    /// built-ins (`activity.recorded`), so an unchanged script computes what it computed; then
    /// compares the outcomes. `attempt` defaults to the last one that ran; `script` replaces the
    /// activity's code (try a fix against the recorded execution). Nothing is written.
    package func replay(_ runID: RunID, activity name: String, attempt: Int? = nil, script: ScriptChunk? = nil) async throws
        -> ReplayResult
    {
        let journal = try await store.journal(of: runID)
        guard let first = journal.first, var state = RunState(queuedBy: first) else { throw EngineError.unknownRun(runID) }
        let workflow = try await self.workflow(of: runID)
        guard let activity = workflow.activity(named: name) else { throw EngineError.unknownActivity(workflow: workflow.id, activity: name) }
        guard case .lua(let chunk) = activity.body else {
            throw EngineError.refused(runID, reason: "'\(name)' is not a code action: only a script's attempts are replayed")
        }
        let starts = journal.filter { $0.activity == name && $0.type == .activityStarted }.compactMap(\.attempt)
        guard let number = attempt ?? starts.last else {
            throw EngineError.refused(runID, reason: "'\(name)' never ran in it")
        }
        guard let startIndex = journal.firstIndex(where: { $0.activity == name && $0.type == .activityStarted && $0.attempt == number }) else {
            throw EngineError.refused(runID, reason: "'\(name)' has no attempt \(number) (attempts: \(starts.map(String.init).joined(separator: ", ")))")
        }
        // The run as the attempt saw it: everything journaled before its start.
        for event in journal[1..<startIndex] { state.apply(event) }
        let after = journal[(startIndex + 1)...]
        var recording = ScriptRecording()
        if let recorded = after.first(where: { $0.activity == name && $0.attempt == number && $0.type == .activityRecorded }),
            case .activityRecorded(let kept) = recorded.payload
        {
            recording = kept
        }
        let code = script ?? chunk
        var limits = activity.limits.applied(to: environment.scriptLimits)
        limits.timeout = activity.timeout ?? environment.scriptLimits.timeout
        let context = BodyContext(
            role: .activity, runID: runID, workflow: workflow.id, version: workflow.version, activity: name, context: state.context,
            steps: state.steps(code.stepsUse), event: state.triggerEvent, timeout: nil, limits: activity.limits)
        var invocation = ScriptInvocation(
            chunk: code, input: state.activities[name]?.input ?? state.input, context: state.context, steps: context.steps,
            activity: context.activityValue(attempt: number), event: state.triggerEvent, limits: limits)
        invocation.replay = recording
        let replayed: ReplayResult.Outcome
        do throws(ActivityFailure) {
            let outcome = try await runner.run(invocation)
            replayed = ReplayResult.Outcome(output: outcome.output, contextWrites: outcome.contextWrites, error: nil)
        } catch {
            replayed = ReplayResult.Outcome(output: nil, contextWrites: [:], error: error)
        }
        return ReplayResult(
            activity: name, attempt: number, recorded: try Self.recordedOutcome(of: name, attempt: number, in: after, runID: runID),
            replayed: replayed, truncated: recording.truncated)
    }

    /// How attempt `number` ended: the first entry after its start that settles it (a completion,
    /// a retry, a failure, or the failure a fallback took over).
    private static func recordedOutcome(of name: String, attempt number: Int, in entries: ArraySlice<RunEvent>, runID: RunID) throws
        -> ReplayResult.Outcome
    {
        for event in entries where event.activity == name {
            switch event.payload {
            case .activityCompleted(let completion):
                return ReplayResult.Outcome(output: completion.output, contextWrites: completion.contextWrites, error: nil)
            case .activityRetrying(let error, _), .activityFailed(let error, _), .activityFallback(let error, _),
                .activitySkipped(.fallback(let error, _)), .activityCancelled(let error, _):
                return ReplayResult.Outcome(output: nil, contextWrites: [:], error: error)
            default: continue
            }
        }
        throw EngineError.refused(runID, reason: "attempt \(number) of '\(name)' has not ended: nothing to compare with")
    }
}
