import Foundation
import MoonflowLoader
import MoonflowModel
import Testing

/// Durations, sizes and cron expressions as written in workflow files.
@Suite struct QuantityTests {
    func loadActivity(_ yaml: String) throws -> (Activity?, [Diagnostic]) {
        let dir = try TemporaryProject(files: ["workflows/w.yaml": "workflow: w\nactivities:\n  - name: a\n    call: noop\n" + yaml])
        let result = ProjectLoader(projectDirectory: dir.url).loadProject()
        return (result.workflow("w")?.workflow.activities.first, result.diagnostics)
    }

    @Test(arguments: [
        ("500ms", Duration.milliseconds(500)), ("30s", .seconds(30)), ("5m", .seconds(300)), ("2h", .seconds(7200)),
        ("1d", .seconds(86400)), ("1h30m", .seconds(5400)), ("PT30S", .seconds(30)), ("PT1H30M", .seconds(5400)),
        ("P1DT0.5S", .milliseconds(86_400_500)), ("1.5s", .milliseconds(1500)),
    ])
    func durationsInEveryAcceptedForm(text: String, expected: Duration) throws {
        let (activity, diagnostics) = try loadActivity("    timeout: \(text)\n")
        #expect(diagnostics.isEmpty)
        #expect(activity?.timeout == expected)
    }

    @Test(arguments: ["30", "5 minutes", "1s1s", "30m1h", "P1M", "PT", "-1s", "1:30", "0s"])
    func malformedDurationsAreRefused(text: String) throws {
        let (_, diagnostics) = try loadActivity("    timeout: \"\(text)\"\n")
        #expect(diagnostics.count == 1)
        #expect([DiagnosticCode.invalidValue, .outOfRange].contains(diagnostics.first?.code))
    }

    @Test(arguments: [("16MB", 16 << 20), ("512KB", 512 << 10), ("64Mi", 64 << 20), ("1GiB", 1 << 30), ("4096", 4096)])
    func sizes(text: String, bytes: Int) throws {
        let (activity, diagnostics) = try loadActivity("    limits: {memory: \(text)}\n")
        #expect(diagnostics.isEmpty)
        #expect(activity?.limits.memory == bytes)
    }

    @Test(arguments: ["*/5 * * * *", "0 9 * * MON-FRI", "0 0 1,15 * *", "30 2 * JAN-MAR 0", "0 */2 * * 7"])
    func validCronExpressions(cron: String) throws {
        let dir = try TemporaryProject(files: ["workflows/w.yaml": "workflow: w\ntrigger: {schedule: {cron: \"\(cron)\", timezone: Europe/Oslo}}\nactivities: [{name: a, call: noop}]\n"])
        let result = ProjectLoader(projectDirectory: dir.url).loadProject()
        #expect(result.diagnostics.isEmpty)
        #expect(result.workflow("w")?.workflow.triggers.first?.kind == .schedule(cron: cron, timezone: "Europe/Oslo"))
    }

    @Test(arguments: [
        ("* * * *", "expected 5 fields, found 4 in '* * * *'"), ("60 * * * *", "minute field: '60' is outside 0-59"),
        ("* 5-2 * * *", "hour field: range '5-2' goes backwards"), ("* * * * FUN", "day of week field: 'FUN' is outside 0-7"),
        ("*/0 * * * *", "minute field: '0' is not a valid step"),
    ])
    func invalidCronExpressionsSayWhichField(cron: String, problem: String) throws {
        let dir = try TemporaryProject(files: ["workflows/w.yaml": "workflow: w\ntrigger: {schedule: {cron: \"\(cron)\"}}\nactivities: [{name: a, call: noop}]\n"])
        let result = ProjectLoader(projectDirectory: dir.url).loadProject()
        #expect(result.diagnostics.map(\.message) == ["'cron': \(problem)"])
    }

    @Test func templatesKeepTypesForWholeExpressionsAndSplitMixedText() throws {
        let (activity, diagnostics) = try loadActivity(
            """
                with:
                  whole: ${ input.n }
                  mixed: "id-${ input.id }-${ {1} }!"
                  literal: "$${ not } plain"
                  number: 3

            """)
        #expect(diagnostics.isEmpty)
        guard case .object(let with)? = activity?.with else {
            Issue.record("with should be an object")
            return
        }
        #expect(with["whole"] == .template(Template(parts: [.expression(Expression("input.n"))])))
        #expect(
            with["mixed"]
                == .template(Template(parts: [.literal("id-"), .expression(Expression("input.id")), .literal("-"), .expression(Expression("{1}")), .literal("!")])))
        #expect(with["literal"] == .value("${ not } plain"))
        #expect(with["number"] == .value(3))
    }

    @Test func aWithWithoutExpressionsIsOneValueToRender() throws {
        let (constant, diagnostics) = try loadActivity(
            """
                with: {connection: svc, path: /ok, query: {page: 2}, tags: [a, "$${ b }"]}

            """)
        #expect(diagnostics.isEmpty)
        #expect(constant?.with == .value(["connection": "svc", "path": "/ok", "query": ["page": 2], "tags": ["a", "${ b }"]]))
        // One expression anywhere keeps the tree, its other members folded.
        let (mixed, _) = try loadActivity(
            """
                with: {connection: svc, query: {page: "${ input.page }"}, tags: [a]}

            """)
        guard case .object(let members)? = mixed?.with else {
            Issue.record("with should stay a tree")
            return
        }
        #expect(members["connection"] == .value("svc") && members["tags"] == .value(["a"]))
        #expect(members["query"] == .object(["page": .template(Template(parts: [.expression(Expression("input.page"))]))]))
    }
}
