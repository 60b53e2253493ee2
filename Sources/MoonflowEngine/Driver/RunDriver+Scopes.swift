import MoonflowModel
import OrderedCollections

/// What expressions (docs/expressions.md) and bodies (docs/sandbox.md) of this run see.
extension RunDriver {
    /// The names expressions see.
    func expressionScope(_ extra: OrderedDictionary<String, Value> = [:]) -> Value {
        var scope: OrderedDictionary<String, Value> = [
            "input": state.input, "workflow": .object(state.context), "steps": state.steps,
            "event": state.triggerEvent ?? .null, "run": runInfo,
        ]
        scope.merge(extra) { _, new in new }
        return .object(scope)
    }

    private var runInfo: Value {
        [
            "id": .string(state.id), "workflow": .string(workflow.id), "version": workflow.version.map(Value.string) ?? .null,
            "started_at": state.startedAt.map { .string($0.iso8601) } ?? .null,
        ]
    }

    func evaluate(_ expression: Expression, scope: Value) async throws(ActivityFailure) -> Value {
        try await environment.runner.evaluate(.template(Template(parts: [.expression(expression)])), scope: scope)
    }

    func render(_ template: ValueTemplate?, scope: Value) async throws(ActivityFailure) -> Value? {
        switch template {
        case nil: nil
        case .value(let value): value
        case let template?: try await environment.runner.evaluate(template, scope: scope)
        }
    }

    /// What a body of this run sees besides its input: of `steps`, only what `stepsUse` (the
    /// bodies that run in this context) can read.
    func bodyContext(
        for activity: String, role: BodyRole = .activity, stepsUse: StepsUse, timeout: Duration?, limits: LimitOverrides
    ) -> BodyContext {
        BodyContext(
            role: role, runID: state.id, workflow: workflow.id, version: workflow.version, activity: activity, context: state.context,
            steps: state.steps(stepsUse), event: state.triggerEvent, timeout: timeout, limits: limits)
    }
}
