import MoonflowModel
import Testing

/// Which `steps` entries a chunk can read, found from its source (docs/sandbox.md): wrong only the
/// safe way (`.all` when unsure).
struct StepsUseTests {
    @Test(arguments: [
        ("return 1", StepsUse.none),
        ("workflow.n = workflow.n + 1\nreturn workflow.n", .none),
        ("return steps.fetch.output", .names(["fetch"])),
        ("return steps . fetch . output + steps.price.output.sum", .names(["fetch", "price"])),
        ("return steps[\"fetch\"].output, steps[ 'price' ]", .names(["fetch", "price"])),
        ("local mysteps = 1\nreturn stepsize or mysteps", .none),
        ("for k, v in pairs(steps) do end", .all),
        ("local s = steps\nreturn s.fetch", .all),
        ("return steps[name]", .all),
        ("return steps[\"a\\\"b\"]", .all),
        ("return steps[[fetch]]", .all),
        ("return 'x' .. steps", .all),
        ("return steps", .all),
        ("return steps:method()", .all),
        ("return _ENV.steps.fetch", .all),
        ("local e = _ENV\nreturn e['st' .. 'eps']", .all),
        ("-- reads the steps before\nreturn steps.fetch", .all),
        ("return steps.fetch -- and steps.price", .names(["fetch", "price"])),
        ("return x.steps", .all),
        ("return steps.", .all),
        ("return steps.1", .all),
    ])
    func theUseOfASource(_ source: String, _ expected: StepsUse) {
        #expect(StepsUse(scanning: source) == expected, "\(source)")
    }

    @Test func aChunkKnowsItsUse() {
        #expect(ScriptChunk(source: "return steps.a.output", name: "t").stepsUse == .names(["a"]))
    }

    @Test func unionsAndIncludes() {
        let a = StepsUse.names(["a", "b"])
        #expect(a.union(.names(["b", "c"])) == .names(["a", "b", "c"]))
        #expect(a.union(.none) == a && StepsUse.none.union(a) == a)
        #expect(a.union(.all) == .all)
        #expect(a.includes("a") && !a.includes("c") && StepsUse.all.includes("z") && !StepsUse.none.includes("a"))
    }
}
