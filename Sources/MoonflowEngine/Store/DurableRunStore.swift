package import MoonflowModel

/// A store that keeps runs beyond the process (SQLite, PostgreSQL): what operators and the
/// conformance tests read besides `RunStore`, from the summary tables a durable store writes in
/// the transaction of the journal rows they follow from (docs/durability.md).
package protocol DurableRunStore: RunStore {
    /// Compares the stored state of every run with the fold of its journal: one line per
    /// difference, empty when the store is consistent (docs/durability.md).
    func verify() async throws -> [String]
    /// Runs waiting to start, in queue order (docs/resilience.md).
    func queuedRuns() async throws -> [RunQueueEntry]
    /// Every stored definition version of a workflow, oldest first.
    func definitionVersions(of workflow: String) async throws -> [(version: Int, hash: String)]
    /// Notes a run recovery could not drive; the reason is kept as every error text is (`SafeText.errorMessage`).
    func recordDeadLetter(runID: String, reason: String, at: Timestamp) async throws
    func deadLetters() async throws -> [DeadLetter]
    /// Transactions committed and writes they held so far (mean batch size = writes / transactions).
    var commitStatistics: (transactions: Int, writes: Int) { get }
}

/// A run recovery could not drive, and why.
package struct DeadLetter: Sendable, Hashable {
    package var runID: String
    package var at: Timestamp
    package var reason: String

    package init(runID: String, at: Timestamp, reason: String) {
        self.runID = runID
        self.at = at
        self.reason = reason
    }
}
