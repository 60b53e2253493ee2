import Foundation
import Logging
import MoonflowEngine
import MoonflowModel
import MoonflowRuntime
import MoonflowStore
import Testing

/// `Runtime.make`, the one composition root: the store the configuration selects, the catalog
/// child runs start from, and the served project of `moonflow serve`.
@Suite struct RuntimeTests {
    static let hello = """
        workflow: hello
        activities:
          - name: greet
            run: return {greeting = "hello " .. (input.name or "world")}
        """

    static let napping = """
        workflow: napping
        activities:
          - name: nap
            call: sleep
            with: {duration: 50ms}
          - name: after
            needs: [nap]
            run: return {woke = true}
        """

    /// A project of `files`, removed when the value is.
    final class Project: Sendable {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("moonflow-runtime-\(UUID().uuidString)")

        init(_ files: [String: String]) throws {
            for (path, text) in files { try write(path, text) }
        }

        deinit { try? FileManager.default.removeItem(at: url) }

        func write(_ path: String, _ text: String) throws {
            let file = url.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: file)
        }
    }

    static let quiet = Logger(label: "runtime-test", factory: { _ in SwiftLogNoOpLogHandler() })

    func options(_ project: Project, config: EngineConfig = EngineConfig(), store: StoreSelection = .configured) -> RuntimeOptions {
        RuntimeOptions(project: project.url, config: config, store: store, logger: Self.quiet)
    }

    @Test func theConfiguredSQLiteFileIsOpenedUnderTheProjectAndRunsAreKeptThere() async throws {
        let project = try Project(["workflows/hello.yaml": Self.hello])
        let config = EngineConfig(store: .sqlite(path: "state/runs.db", synchronous: .normal))
        let id: RunID
        do {
            let runtime = try Runtime.make(options(project, config: config))
            #expect(runtime.served == nil)
            #expect(runtime.store is SQLiteRunStore)
            let loaded = try runtime.loader.loadWorkflow("hello")
            id = try await runtime.engine.start(loaded.pinned, input: ["name": "Ada"])
            let report = try await runtime.driveUntilSettled(id)
            #expect(report.status == .completed)
            #expect(report.output == ["greeting": "hello Ada"])
        }
        #expect(FileManager.default.fileExists(atPath: project.url.appendingPathComponent("state/runs.db").path))
        // Reopened from the file: the run is there.
        let reopened = try Runtime.make(options(project, config: config, store: .sqlite(path: "state/runs.db")))
        #expect(try await reopened.engine.report(id).status == .completed)
    }

    @Test func memoryAndAPathGivenOverrideTheConfiguredStore() throws {
        let project = try Project(["workflows/hello.yaml": Self.hello])
        #expect(try Runtime.make(options(project, store: .memory)).store is InMemoryRunStore)
        #expect(try Runtime.make(options(project, config: EngineConfig(store: .memory))).store is InMemoryRunStore)
        let chosen = try Runtime.make(options(project, config: EngineConfig(store: .memory), store: .sqlite(path: "chosen.db")))
        #expect(chosen.store is SQLiteRunStore)
        #expect(FileManager.default.fileExists(atPath: project.url.appendingPathComponent("chosen.db").path))
        #expect(!FileManager.default.fileExists(atPath: project.url.appendingPathComponent(".moonflow/state.db").path))
    }

    /// A store another runtime owns is refused with the store's own reason, and nothing is built.
    @Test func aStoreAnotherRuntimeOwnsIsRefusedWithItsReason() throws {
        let project = try Project(["workflows/hello.yaml": Self.hello])
        let owner = try Runtime.make(options(project))
        let path = project.url.appendingPathComponent(".moonflow/state.db").path
        let error = try #require(throws: RuntimeError.self) { try Runtime.make(options(project)) }
        switch error {
        case .storeUnavailable(let refused, let reason):
            #expect(refused == path)
            #expect(reason as? StoreOpenError == .inUse(path: path))
        default:
            Issue.record("expected the store's refusal, not \(error)")
        }
        #expect(error.description == StoreOpenError.inUse(path: path).description)
        withExtendedLifetime(owner) {}
    }

    /// A connection naming a secret nobody defined stops the start, naming the secret; no store is opened.
    @Test func aMissingSecretIsAStartupErrorNamingIt() throws {
        let project = try Project(["workflows/hello.yaml": Self.hello])
        var config = EngineConfig(secretsEnvironmentPrefix: "MOONFLOW_SECRET_")
        config.connections["crm"] = Connection(name: "crm", url: "https://crm.example", auth: .bearer(SecretText([.secret("CRM_TOKEN")])))
        var options = options(project, config: config)
        options.environment = [:]
        let error = try #require(throws: RuntimeError.self) { try Runtime.make(options) }
        #expect(error.description.contains("secret 'CRM_TOKEN' used by connection 'crm'"))
        #expect(!FileManager.default.fileExists(atPath: project.url.appendingPathComponent(".moonflow/state.db").path))
        options.environment = ["MOONFLOW_SECRET_CRM_TOKEN": "t0ken"]
        _ = try Runtime.make(options)
    }

    /// A one-shot command's child runs start the definition the files hold now.
    @Test func aOneShotRuntimeReadsDefinitionsFromTheFilesWhenAsked() async throws {
        let project = try Project(["workflows/hello.yaml": Self.hello])
        let runtime = try Runtime.make(options(project, store: .memory))
        let first = try #require(await runtime.catalog.workflow(id: "hello"))
        try project.write("workflows/hello.yaml", Self.hello + "\n  - name: again\n    run: return 2\n")
        let second = try #require(await runtime.catalog.workflow(id: "hello"))
        #expect(first.hash != second.hash)
        #expect(second.workflow.activities.map(\.name) == ["greet", "again"])
        #expect(await runtime.catalog.workflow(id: "missing") == nil)
    }

    /// A served project is loaded once: its catalog keeps serving what it loaded until a reload,
    /// and it brings the services `moonflow serve` runs.
    @Test func aServedRuntimeServesTheLastLoadUntilAReload() async throws {
        let project = try Project(["workflows/hello.yaml": Self.hello])
        var options = options(project, store: .memory)
        options.serving = ServingOptions()
        let runtime = try Runtime.make(options)
        let served = try #require(runtime.served)
        let services = served.makeServices()
        #expect(services.count == 7)
        #expect(services.contains { $0 as? NotificationOutbox === runtime.outbox })
        let first = try #require(served.catalog.current("hello"))
        try project.write("workflows/hello.yaml", Self.hello + "\n  - name: again\n    run: return 2\n")
        #expect(await runtime.catalog.workflow(id: "hello")?.hash == first.contentHash)
        #expect(served.reload(reason: "test").changed == ["hello"])
        #expect(await runtime.catalog.workflow(id: "hello")?.hash != first.contentHash)
    }

    /// `driveUntilSettled` waits out a durable `sleep` in this process, as `moonflow run` does.
    @Test func drivingUntilSettledWaitsOutASleep() async throws {
        let project = try Project(["workflows/napping.yaml": Self.napping])
        let runtime = try Runtime.make(options(project, store: .memory))
        let id = try await runtime.engine.start(try runtime.loader.loadWorkflow("napping").pinned, input: [:])
        let report = try await runtime.driveUntilSettled(id)
        #expect(report.status == .completed)
        #expect(report.output == ["woke": true])
    }

    @Test func anInvalidConfigurationIsReportedWithItsDiagnostics() throws {
        let project = try Project(["moonflow.yaml": "store: {kind: floppy}\n"])
        guard case .failure(let problems) = Runtime.configuration(project: project.url) else {
            Issue.record("an invalid moonflow.yaml was accepted")
            return
        }
        #expect(problems.diagnostics.first?.location.file == "moonflow.yaml")
        // A configuration file named must exist; moonflow.yaml need not.
        guard case .failure = Runtime.configuration(project: project.url, file: project.url.appendingPathComponent("none.yaml").path) else {
            Issue.record("a missing --config file was accepted")
            return
        }
        guard case .success = Runtime.configuration(project: try Project([:]).url) else {
            Issue.record("a project without moonflow.yaml has the defaults")
            return
        }
    }
}
