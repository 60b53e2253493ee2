import Foundation
import GRDB
import Logging
import MoonflowEngine
import MoonflowLoader
import MoonflowModel
import MoonflowRuntime
import MoonflowStore
import Testing

/// A temporary project (workflows/, scripts/) with a store file in it, and an engine over it that
/// rebuilds pinned definitions with the project loader, as the CLI does (`Runtime.make`).
final class StoreFixture: Sendable {
    let directory: URL

    init(workflows: [String: String] = [:]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("moonflow-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("workflows"), withIntermediateDirectories: true)
        for (id, text) in workflows { try write("workflows/\(id).yaml", text) }
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    var storePath: String { directory.appendingPathComponent(".moonflow/state.db").path }

    func write(_ path: String, _ text: String) throws {
        let url = directory.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    var loader: ProjectLoader { Runtime.loader(project: directory) }

    /// Opens the store. A store of this fixture opened before holds the owner lock until its last
    /// reference is gone, which a task finishing on another thread may drop a moment after the
    /// test let go of it (seen on a loaded machine): reopening waits for that, up to 10 s.
    func open(_ options: SQLiteStoreOptions = SQLiteStoreOptions()) throws -> SQLiteRunStore {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            do {
                return try SQLiteRunStore(path: storePath, options: options)
            } catch StoreOpenError.inUse where ContinuousClock.now < deadline {
                usleep(20_000)
            }
        }
    }

    func engine(_ store: any RunStore) -> Engine {
        let options = RuntimeOptions(
            project: directory, store: .existing(store), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        // An existing store is never opened, so nothing can fail.
        return try! Runtime.make(options).engine
    }

    func pinned(_ id: String) throws -> PinnedWorkflow { try loader.loadWorkflow(id).pinned }
}

let threeSteps = """
    workflow: three
    context: {count: 0}
    activities:
      - name: a
        run: |
          workflow.count = workflow.count + 1
          return {n = 1}
      - name: b
        run: |
          workflow.count = workflow.count + 1
          return {n = steps.a.output.n + 1}
      - name: c
        run: return {n = steps.b.output.n + 1, key = activity.idempotency_key}
    """

let approval = """
    workflow: approval
    activities:
      - name: ask
        type: manual
        assign: {users: [alice]}
        due: 1h
        form:
          type: object
          required: [ok]
          properties: {ok: {type: boolean}}
      - name: after
        run: return {version = 1, ok = steps.ask.output.ok}
    """
