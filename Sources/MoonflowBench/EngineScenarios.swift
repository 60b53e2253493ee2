import MoonflowEngine
import MoonflowLoader
import MoonflowLua
import MoonflowModel

/// Generated workflows run through the real loader, engine and Lua sandbox, each run checked.
enum EngineBench {
    /// Times `runs` runs of `loaded` per repetition (one after another, or all at once) and checks
    /// every run's output; returns the median nanoseconds per run. One unmeasured run warms up the
    /// Lua pool first.
    static func nanosPerRun(
        _ engine: Engine, _ loaded: LoadedWorkflow, runs: Int, concurrently: Bool = false, output: Value, repetitions: Int
    ) async throws -> Double {
        try await engine.benchCheck(try await engine.benchRun(loaded), output: output)
        var ids: [RunID] = []
        let nanos = try await Bench.medianNanos(repetitions: repetitions, operations: runs) {
            if concurrently {
                ids = try await withThrowingTaskGroup(of: RunID.self) { group in
                    for _ in 0..<runs { group.addTask { try await engine.benchRun(loaded) } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            } else {
                ids = []
                for _ in 0..<runs { ids.append(try await engine.benchRun(loaded)) }
            }
        }
        // The last repetition's runs are checked (the others ran the same definition).
        for id in ids { try await engine.benchCheck(id, output: output) }
        return nanos
    }

    static func figure(
        _ scenario: String, _ metric: String, nanosPerRun: Double, steps: Int, checked: String, floor: BenchFloor?,
        target: BenchTarget? = nil
    ) -> BenchFigure {
        BenchFigure(
            scenario: scenario, metric: metric, nanosPerOp: nanosPerRun / Double(steps), unit: "step", checked: checked,
            floor: floor, runsPerSecond: 1e9 / nanosPerRun, target: target)
    }

    /// The docs/performance.md in-memory target: at most 10 µs of engine per trivial step.
    static func overheadTarget(_ nanosPerStep: Double) -> BenchTarget {
        .atMost(nanosPerStep, 10_000, "≤ 10 µs engine overhead per step")
    }
}

/// `seq40`: one run of 40 sequential Lua steps, each adding 1 to `workflow.n` (output 40). The
/// engine's overhead per step is given two ways: the per-step time minus the sandboxed script of
/// one step measured in the same run, and the per-step time of 40 `call: noop` steps.
struct Seq40Scenario: BenchScenario {
    let name = "seq40"
    static let steps = 40
    static let runsPerRepetition = 10

    func run(_ context: BenchContext) async throws -> [BenchFigure] {
        let project = try BenchProject(files: [
            "seq40.yaml": BenchWorkflows.sequential(id: "seq40", count: Self.steps),
            "seq40_noop.yaml": BenchWorkflows.noop(id: "seq40_noop", count: Self.steps),
        ])
        defer { project.remove() }
        let workflows = try project.loadValid()
        guard let lua = workflows["seq40"], let noop = workflows["seq40_noop"] else { throw BenchError(description: "seq40: not loaded") }
        let engine = try await project.engine(context.store)
        let (runs, reps) = (Self.runsPerRepetition, context.repetitions)

        let perRun = try await EngineBench.nanosPerRun(engine, lua, runs: runs, output: .int(Int64(Self.steps)), repetitions: reps)
        let noopPerRun = try await EngineBench.nanosPerRun(engine, noop, runs: runs, output: .null, repetitions: reps)
        let script = try await scriptNanos(lua.workflow, repetitions: reps)
        let perStep = perRun / Double(Self.steps)
        let overhead = perStep - script
        let noopPerStep = noopPerRun / Double(Self.steps)
        let floor = context.luaFloor
        return [
            EngineBench.figure(name, "run of 40 Lua steps", nanosPerRun: perRun, steps: Self.steps, checked: "output 40", floor: floor),
            BenchFigure(
                scenario: name, metric: "sandboxed step script alone", nanosPerOp: script, unit: "call",
                checked: "output 20 from n = 19", floor: floor),
            BenchFigure(
                scenario: name, metric: "engine overhead (step − script)", nanosPerOp: overhead, unit: "step",
                checked: "output 40", floor: floor, target: EngineBench.overheadTarget(overhead)),
            EngineBench.figure(
                name, "engine overhead (call: noop)", nanosPerRun: noopPerRun, steps: Self.steps, checked: "40 noop steps completed",
                floor: floor, target: EngineBench.overheadTarget(noopPerStep)),
        ]
    }

    /// One step's script as the engine calls it halfway through the run: from a task on one of
    /// the runner's threads (where the engine drives runs, `ScriptRunning.taskExecutor`), with
    /// 19 steps done and, of their outputs, what the script reads (`StepsUse`), `n` = 19 in the
    /// context.
    private func scriptNanos(_ workflow: Workflow, repetitions: Int) async throws -> Double {
        guard case .lua(let chunk) = workflow.activities[19].body else { throw BenchError(description: "seq40: step 20 is not Lua") }
        var steps: [String: Value] = [:]
        for i in 1...19 where chunk.stepsUse.includes("s\(i)") { steps["s\(i)"] = ["output": .int(Int64(i)), "status": "completed"] }
        let invocation = ScriptInvocation(
            chunk: chunk, input: .object([:]), context: ["n": 19], steps: .object(.init(uniqueKeysWithValues: steps.sorted { $0.key < $1.key })),
            activity: ["name": "s20", "attempt": 1, "idempotency_key": "bench:s20", "run": ["id": "bench", "workflow": "seq40", "version": .null]])
        let runner = LuaRunner()
        let calls = 200
        return try await withTaskExecutorPreference(runner.taskExecutor()) {
            try await Bench.medianNanos(repetitions: repetitions, operations: calls) {
                for _ in 0..<calls {
                    let outcome = try await runner.run(invocation)
                    try Bench.check(outcome.output, equals: 20, "seq40 step script")
                    try Bench.check(outcome.contextWrites["n"], equals: 20, "seq40 step script's context write")
                }
            }
        }
    }
}

/// `par10`: 10 parallel Lua steps returning 1, then a join summing their outputs (output 10).
struct Par10Scenario: BenchScenario {
    let name = "par10"

    func run(_ context: BenchContext) async throws -> [BenchFigure] {
        let (project, loaded, engine) = try await BenchProject.single(id: "par10", yaml: BenchWorkflows.parallel(id: "par10", width: 10), store: context.store)
        defer { project.remove() }
        let perRun = try await EngineBench.nanosPerRun(engine, loaded, runs: 20, output: 10, repetitions: context.repetitions)
        return [
            EngineBench.figure(name, "run of 10 parallel steps + join", nanosPerRun: perRun, steps: 11, checked: "output 10", floor: context.luaFloor)
        ]
    }
}

/// `runs3`: 1,000 runs of 3 sequential Lua steps, one after another (each output 3).
struct Runs3Scenario: BenchScenario {
    let name = "runs3"

    func run(_ context: BenchContext) async throws -> [BenchFigure] {
        let (project, loaded, engine) = try await BenchProject.single(id: "runs3", yaml: BenchWorkflows.sequential(id: "runs3", count: 3), store: context.store)
        defer { project.remove() }
        let perRun = try await EngineBench.nanosPerRun(engine, loaded, runs: 1_000, output: 3, repetitions: context.repetitions)
        return [
            EngineBench.figure(name, "1,000 runs of 3 steps", nanosPerRun: perRun, steps: 3, checked: "1,000 outputs 3", floor: context.luaFloor)
        ]
    }
}

/// `concurrent`: 100 runs of `seq40` at once (each output 40). With a durable store, concurrent
/// runs' commits can share one transaction (group commit); in memory it shows the engine's
/// scaling over the cores.
struct ConcurrentScenario: BenchScenario {
    let name = "concurrent"

    func run(_ context: BenchContext) async throws -> [BenchFigure] {
        let (project, loaded, engine) = try await BenchProject.single(id: "seq40", yaml: BenchWorkflows.sequential(id: "seq40", count: Seq40Scenario.steps), store: context.store)
        defer { project.remove() }
        let perRun = try await EngineBench.nanosPerRun(
            engine, loaded, runs: 100, concurrently: true, output: .int(Int64(Seq40Scenario.steps)), repetitions: context.repetitions)
        var figures = [
            EngineBench.figure(
                name, "100 × seq40 at once", nanosPerRun: perRun, steps: Seq40Scenario.steps, checked: "100 outputs 40", floor: context.luaFloor)
        ]
        // The durable target: the time per step against one bare commit (group commit must make a
        // step cost no more than 1.5 commits although each step is several transitions).
        if let commitFloor = context.commitFloor {
            let perStep = perRun / Double(Seq40Scenario.steps)
            figures.append(
                BenchFigure(
                    scenario: name, metric: "durable step vs one commit", nanosPerOp: perStep, unit: "step", checked: "100 outputs 40",
                    floor: commitFloor, target: .atMost(perStep / commitFloor.nanos, 1.5, "≤ 1.5 × a bare commit per step")))
        }
        return figures
    }
}
