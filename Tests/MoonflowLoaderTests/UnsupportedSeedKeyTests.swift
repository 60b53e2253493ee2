import Foundation
import MoonflowLoader
import MoonflowModel
import Testing

/// Seed keys with no meaning in this engine are refused where they are written, naming what to use
/// instead — never loaded and ignored.
@Suite struct UnsupportedSeedKeyTests {
    @Test func engineConfigurationKeys() throws {
        let project = try TemporaryProject(files: [
            "moonflow.yaml": """
                resources: {cpu: {limit: 2}, memory: {limit: 64Mi, request: 32Mi}}
                logging: {level: info, components: {engine: debug}}
                tracing: {enabled: true, components: [engine]}

                """
        ])
        guard case .failure(let problems) = EngineConfigLoader.load(project.url.appendingPathComponent("moonflow.yaml")) else {
            Issue.record("the unsupported keys must be refused")
            return
        }
        let text = problems.renderedDiagnostics()
        for expected in [
            "moonflow.yaml:1:13: error[InvalidValue]: not supported: 'resources.cpu'",
            "moonflow.yaml:1:52: error[InvalidValue]: not supported: 'resources.memory.request'",
            "moonflow.yaml:2:24: error[InvalidValue]: not supported: 'logging.components'",
            "moonflow.yaml:3:26: error[InvalidValue]: not supported: 'tracing.components'",
            "'resources.instructions' and 'resources.timeout'",
        ] {
            #expect(text.contains(expected), "\(text)")
        }
    }

    @Test func breakerMonitoring() throws {
        let project = try TemporaryProject(files: [
            "workflows/w.yaml": """
                workflow: w
                policies:
                  circuit_breakers:
                    api: {threshold: 3, monitoring: {enabled: true, metrics: [failure_rate]}}
                activities:
                  - name: a
                    run: return 1
                    circuit_breaker: api

                """
        ])
        let result = ProjectLoader(projectDirectory: project.url).loadProject()
        let text = result.renderedDiagnostics()
        #expect(text.contains("workflows/w.yaml:4:25: error[InvalidValue]: not supported: 'circuit_breaker.monitoring'"), "\(text)")
        #expect(text.contains("moonflow_circuit_state"), "\(text)")
    }
}
