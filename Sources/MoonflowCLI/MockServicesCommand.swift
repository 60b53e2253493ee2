import ArgumentParser
import Foundation
import Logging
import MoonflowLoader
import MoonflowModel
import MoonflowServer
import ServiceLifecycle

/// `moonflow mock-services FILE`: serves mocked services locally (docs/integrations.md).
struct MockServicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock-services",
        abstract: "Serve the mocked requests of FILE (the `http:` mocks of `moonflow test`) at /<connection><path>, for local demos.",
        discussion: "Runs until SIGTERM or SIGINT. Exit status: 1 when the file is invalid or the port cannot be bound.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "A YAML file: `services: [{connection, method, path, respond: {status, json | body, headers, delay}}]`.")
    var file: String
    @Option(help: "The address to listen on.") var host = "127.0.0.1"
    @Option(help: "The port to listen on (0: a free one, printed).") var port = 8089

    func run() async throws {
        let url = URL(fileURLWithPath: file, relativeTo: global.projectURL)
        let mocks: [WorkflowTestCase.HTTPMock]
        switch MockServicesLoader.load(url, displayName: file) {
        case .success(let loaded): mocks = loaded
        case .failure(let problems):
            printDiagnostics(problems)
            throw MoonflowExit.failure
        }
        let logger = Logger.escapedStandardError(label: "moonflow.mock-services", level: .warning)
        let application = MockServices(mocks).application(host: host, port: port, logger: logger) { port in
            printError("mock services listening on http://\(host):\(port)/ (\(mocks.count) mocked requests)")
        }
        let group = ServiceGroup(configuration: .init(services: [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            printError("error: \(error)")
            throw MoonflowExit.failure
        }
    }
}
