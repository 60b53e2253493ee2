extension Bench {
    /// Every scenario `moonflow bench` knows, in the order they run; add new ones here.
    package static let scenarios: [any BenchScenario] = [
        Seq40Scenario(), Par10Scenario(), Runs3Scenario(), ConcurrentScenario(), ForgottenTransactionScenario(), LoadScenario(), SandboxScenario(),
        SchemaScenario(), HTTPCallScenario(),
        // Last: they start the server, which bootstraps the process's metrics backend for what follows.
        ReloadScenario(), HTTPScenario(),
    ]

    /// Measures the floors, then runs `scenarios`, telling `starting` of each before it runs. A
    /// scenario that fails its check (or a floor that cannot be measured) throws `BenchError`.
    package static func measure(
        _ scenarios: [any BenchScenario], repetitions: Int, store: BenchStore,
        starting: (_ index: Int, _ scenario: any BenchScenario) -> Void = { _, _ in }
    ) async throws -> BenchReport {
        let luaFloor: BenchFloor
        do {
            luaFloor = try BenchFloors.luaPcall(repetitions: repetitions)
        } catch {
            throw BenchError(description: "floor: \(error)")
        }
        var commitFloor: BenchFloor?
        if case .sqlite(let synchronous) = store {
            commitFloor = BenchFloor(
                name: "bare SQLite commit (WAL, synchronous=\(synchronous.rawValue))",
                nanos: try SQLiteCommitFloor.measure(synchronous: synchronous, repetitions: repetitions))
        }
        if case .postgres(let location) = store {
            commitFloor = BenchFloor(
                name: "bare PostgreSQL one-row commit (same database)",
                nanos: try await PostgresCommitFloor.measure(location, repetitions: repetitions))
        }
        let context = BenchContext(repetitions: repetitions, store: store, luaFloor: luaFloor, commitFloor: commitFloor)
        var figures: [BenchFigure] = []
        for (index, candidate) in scenarios.enumerated() {
            starting(index, candidate)
            do {
                figures += try await candidate.run(context)
            } catch {
                throw BenchError(description: "scenario \(candidate.name): \(error)")
            }
        }
        return BenchReport(
            machine: .current, store: store, repetitions: repetitions, floors: [luaFloor] + (commitFloor.map { [$0] } ?? []), figures: figures)
    }
}
