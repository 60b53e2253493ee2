import MoonflowEngine
import MoonflowLoader
import MoonflowModel
import PostgresNIO

/// `forgotten` (PostgreSQL only; nothing with another store): 100 runs of `seq40` at once, each
/// started again as it ends, for `seconds` — first as they are, then while another session holds a
/// transaction open (`BEGIN; SELECT txid_current();`, as a client that forgot it would), which holds
/// back the database's xmin horizon: no row version a transition updates or deletes after it began
/// can be vacuumed or pruned while it stays open. The figures are the time per durable transition
/// (the store's committed writes) in the first and last `window` of each; the target
/// (docs/performance.md): the open transaction does not cut throughput by more than half, its last
/// window against its first. One timeline: the repetitions are not used.
struct ForgottenTransactionScenario: BenchScenario {
    let name = "forgotten"
    var seconds = 60
    var window = 10
    var workers = 100

    func run(_ context: BenchContext) async throws -> [BenchFigure] {
        guard case .postgres(let location) = context.store else { return [] }
        let steps = Seq40Scenario.steps
        let project = try BenchProject(files: ["seq40.yaml": BenchWorkflows.sequential(id: "seq40", count: steps)])
        defer { project.remove() }
        guard let loaded = try project.loadValid()["seq40"] else { throw BenchError(description: "\(name): not loaded") }
        let runtime = try await project.runtime(context.store)
        guard let store = runtime.store as? any DurableRunStore else { throw BenchError(description: "\(name): not a durable store") }
        let free = try await sustain(runtime.engine, loaded, store)
        let holder = try await PostgresCommitFloor.connect(location)
        let held: [Int]
        do {
            let logger = PostgresCommitFloor.logger
            try await holder.query("SET idle_in_transaction_session_timeout = 0", logger: logger)
            try await holder.query("BEGIN", logger: logger)
            try await holder.query("SELECT txid_current()", logger: logger)
            held = try await sustain(runtime.engine, loaded, store)
            try await holder.query("ROLLBACK", logger: logger)
            try await holder.close()
        } catch {
            try? await holder.close()
            throw error
        }
        let checked = "every run output \(steps)"
        func figure(_ metric: String, transitions: Int, target: BenchTarget? = nil) -> BenchFigure {
            BenchFigure(
                scenario: name, metric: metric, nanosPerOp: Double(window) * 1e9 / Double(max(1, transitions)), unit: "transition",
                checked: checked, floor: context.commitFloor, target: target)
        }
        let (firstHeld, lastHeld) = (held.first ?? 0, held.last ?? 0)
        return [
            figure("no tx open: first \(window) s", transitions: free.first ?? 0),
            figure("no tx open: last \(window) s", transitions: free.last ?? 0),
            figure("tx open: first \(window) s", transitions: firstHeld),
            figure(
                "tx open: last \(window) s of \(seconds)", transitions: lastHeld,
                target: .atMost(Double(firstHeld), 2 * Double(lastHeld), "≥ half its first \(window) s")),
        ]
    }

    /// `workers` runs at once, each started again as it ends, for `seconds`: the transitions the
    /// store committed in each `window`. The last run of each worker is checked (they all ran the
    /// same definition).
    private func sustain(_ engine: Engine, _ loaded: LoadedWorkflow, _ store: any DurableRunStore) async throws -> [Int] {
        let clock = ContinuousClock()
        let start = clock.now
        let windows = max(1, seconds / window)
        let end = start + .seconds(windows * window)
        var counts: [Int] = []
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<workers {
                group.addTask {
                    var last: RunID?
                    while clock.now < end { last = try await engine.benchRun(loaded) }
                    if let last { try await engine.benchCheck(last, output: .int(Int64(Seq40Scenario.steps))) }
                }
            }
            var written = store.commitStatistics.writes
            for index in 1...windows {
                try await Task.sleep(until: start + .seconds(index * window), clock: clock)
                let now = store.commitStatistics.writes
                counts.append(now - written)
                written = now
            }
            try await group.waitForAll()
        }
        guard counts.contains(where: { $0 > 0 }) else { throw BenchError(description: "\(name): no transition committed in \(seconds) s") }
        return counts
    }
}
