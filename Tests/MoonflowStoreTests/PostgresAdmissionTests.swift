import MoonflowEngine
import MoonflowPostgres
import MoonflowTestSupport
import Testing

/// Run admission counted in the database (docs/scale-out.md): stores in one test process stand in
/// for engine processes taking slots at once.
@Suite(.timeLimit(.minutes(2)), .enabled(if: PostgresCluster.installed, Comment(rawValue: PostgresCluster.notInstalled)))
struct PostgresAdmissionTests {
    @Test func processesTakingSlotsAtOnceNeverTakeMoreThanTheLimit() async throws {
        let url = try await PostgresCluster.shared().createDatabase()
        let stores = [try await PostgresClaimTests.open(url), try await PostgresClaimTests.open(url), try await PostgresClaimTests.open(url)]
        let answers = try await withThrowingTaskGroup(of: (String, SharedSlot).self) { group in
            for index in 0..<12 {
                group.addTask {
                    ("r\(index)", try await stores[index % 3].takeSlot(runID: "r\(index)", workflow: "w", workflowMax: 2, engineMax: nil))
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        let taken = answers.filter { $0.value == .taken }.keys.sorted()
        #expect(taken.count == 2)
        #expect(answers.values.count { $0 == .full(queuedInWorkflow: 0, queuedInAll: 0) } == 10)
        // The engine-wide limit counts every workflow's slots.
        #expect(try await stores[0].takeSlot(runID: "x", workflow: "other", workflowMax: nil, engineMax: 2) == .full(queuedInWorkflow: 0, queuedInAll: 0))
        #expect(try await stores[0].takeSlot(runID: "x", workflow: "other", workflowMax: nil, engineMax: 3) == .taken)
        #expect(try await stores[1].admissionSnapshot().running == ["w": 2, "other": 1])
        // A slot whose run was not created is given back, and another process takes it.
        #expect(try await stores[2].freeSlot(of: taken[0]) == [])
        #expect(try await stores[1].takeSlot(runID: "y", workflow: "w", workflowMax: 2, engineMax: nil) == .taken)
        #expect(try await stores[0].takeSlot(runID: "z", workflow: "w", workflowMax: 2, engineMax: nil) == .full(queuedInWorkflow: 0, queuedInAll: 0))
    }
}
