import MoonflowLua
import MoonflowModel
import Testing

/// Expression names that are also Lua globals (`error` in a compensation's or fallback's `with`)
/// are the scope's value, not the global.
@Suite struct ScopeBindingTests {
    @Test func errorInTheScopeShadowsTheGlobalFunction() throws {
        let sandbox = try LuaSandbox()
        let scope: Value = ["error": ["type": "Boom", "message": "no", "attempts": 2]]
        let template = ValueTemplate.template(Template(parts: [.expression(Expression("error.type"))]))
        #expect(try sandbox.evaluate(template, scope: scope, limits: LuaRunner.defaultExpressionLimits) == "Boom")
        // Without an `error` in the scope, the name is Lua's function as before.
        let plain = ValueTemplate.template(Template(parts: [.expression(Expression("type(error)"))]))
        #expect(try sandbox.evaluate(plain, scope: [:], limits: LuaRunner.defaultExpressionLimits) == "function")
    }
}
