import Logging
import MoonflowEngine
import MoonflowLoader
import MoonflowModel
import PostgresNIO

/// `forgotten_tx` (PostgreSQL only; nothing with another store): 100 runs of `seq40` at once,
/// started again as each ends, for `seconds` — first as they are, then while another session holds
/// a transaction open (`BEGIN; SELECT txid_current();`, as a client that forgot it would), which
/// holds back the database's xmin horizon: no row any transition updates or deletes after it began
/// can be vacuumed or pruned while it stays open. The figures are the time per completed step in
/// the first and last `window` of each; the target (docs/performance.md): the open transaction
/// does not cut throughput by more than half, its last window against its first. One timeline: the
/// repetitions are not used.
struct ForgottenTransactionScenario: BenchScenario {
    let name = "forgotten_tx"
    var seconds = 60
    var window = 10
    var workers = 100

    func run(_ context: BenchContext) async throws -> [BenchFigure] {
        guard case .postgres(let location) = context.store else { return [] }
        let steps = Seq40Scenario.steps
        let (project, loaded, engine) = try await BenchProject.single(
            id: "seq40", yaml: BenchWorkflows.sequential(id: "seq40", count: steps), store: context.store)
        defer { project.remove() }
        let free = try await sustain(engine, loaded)
        let holder = try await PostgresCommitFloor.connect(location)
        let held: [Int]
        do {
            try await holder.query("SET idle_in_transaction_session_timeout = 0", logger: PostgresCommitFloor.logger)
            try await holder.query("BEGIN", logger: PostgresCommitFloor.logger)
            try await holder.query("SELECT txid_current()", logger: PostgresCommitFloor.logger)
            held = try await sustain(engine, loaded)
            try await holder.query("ROLLBACK", logger: PostgresCommitFloor.logger)
            try await holder.close()
        } catch {
            try? await holder.close()
            throw error
        }
        let checked = "every run output \(steps)"
        func figure(_ metric: String, runs: Int, target: BenchTarget? = nil) -> BenchFigure {
            let nanos = Double(window) * 1e9 / Double(max(1, runs))
            return EngineBench.figure(name, metric, nanosPerRun: nanos, steps: steps, checked: checked, floor: context.commitFloor, target: target)
        }
        let (firstFree, lastFree) = (free.first ?? 0, free.last ?? 0)
        let (firstHeld, lastHeld) = (held.first ?? 0, held.last ?? 0)
        let span = "\(window) s"
        return [
            figure("\(workers) × seq40 sustained, first \(span)", runs: firstFree),
            figure("\(workers) × seq40 sustained, last \(span) of \(seconds) s", runs: lastFree),
            figure("same, another session's transaction open: first \(span)", runs: firstHeld),
            figure(
                "same, another session's transaction open: last \(span) of \(seconds) s", runs: lastHeld,
                target: .atMost(Double(firstHeld), 2 * Double(lastHeld), "≥ half the throughput of its first \(span)")),
        ]
    }

    /// `workers` runs at once, each started again as it ends, for `seconds`: the runs completed in
    /// each `window`. The last run of each worker is checked (they all ran the same definition).
    private func sustain(_ engine: Engine, _ loaded: LoadedWorkflow) async throws -> [Int] {
        let clock = ContinuousClock()
        let start = clock.now
        let windows = max(1, seconds / window)
        let end = start + .seconds(windows * window)
        let counts = try await withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<workers {
                group.addTask {
                    var counts = Array(repeating: 0, count: windows)
                    var last: RunID?
                    while clock.now < end {
                        last = try await engine.benchRun(loaded)
                        let index = Int((clock.now - start) / .seconds(window))
                        if index < windows { counts[index] += 1 }
                    }
                    if let last { try await engine.benchCheck(last, output: .int(Int64(Seq40Scenario.steps))) }
                    return counts
                }
            }
            return try await group.reduce(into: Array(repeating: 0, count: windows)) { total, counts in
                for index in counts.indices { total[index] += counts[index] }
            }
        }
        guard counts.contains(where: { $0 > 0 }) else { throw BenchError(description: "\(name): no run completed in \(seconds) s") }
        return counts
    }
}
