import MoonflowModel
import Testing

@Suite struct RunIDRuleTests {
    @Test(arguments: ["order-42", "a", "A9", "payout-101.check", "x:y~z_w-v", String(repeating: "a", count: 200)])
    func callerIDsFollowingThePatternAreAccepted(_ id: String) {
        #expect(RunIDRule.problem(with: id) == nil)
    }

    @Test(arguments: [
        "", String(repeating: "a", count: 201), "payout-101/check", "-x", ".x", "_x", "~x", "@schedule:nightly:1",
        "x')", "a b", "line\nbreak", "esc\u{1B}[2J", "é", "a%2Fb", "<script>",
    ])
    func otherIDsAreRefusedWithAReason(_ id: String) {
        let problem = RunIDRule.problem(with: id)
        #expect(problem != nil)
        #expect(throws: RunIDError.self) { try RunIDRule.check(id) }
    }

    @Test func theErrorShowsTheIDSafely() {
        let error = RunIDError(id: "x\n2026 critical forged\u{1B}[2J" + String(repeating: "y", count: 500), reason: "r")
        #expect(!error.description.contains("\n"))
        #expect(!error.description.contains("\u{1B}"))
        #expect(error.description.count < 300)
    }
}

@Suite struct SafeTextTests {
    @Test func controlCharactersBecomeVisibleEscapes() {
        #expect(SafeText.escapingControls("a\nb\rc\td\u{1B}[2Je\u{7F}\u{85}\u{2028}\u{202E}") == #"a\nb\rc\td\u{1B}[2Je\u{7F}\u{85}\u{2028}\u{202E}"#)
        #expect(SafeText.escapingControls("plain é ✓ \\n") == "plain é ✓ \\n")
    }

    @Test func aHugeErrorMessageIsCutToEightKilobytesAndMarked() {
        let message = SafeText.errorMessage(String(repeating: "E", count: 20 << 20))
        #expect(message.utf8.count <= 8192)
        #expect(message.hasSuffix("… [truncated: 20971520 bytes in all]"))
        #expect(message.hasPrefix("EEEE"))
        #expect(SafeText.errorMessage(message) == message)
    }

    @Test func theCutFallsOnACharacterBoundary() {
        let message = SafeText.errorMessage(String(repeating: "é👍🏽", count: 4000))
        #expect(message.utf8.count <= 8192)
        #expect(message.unicodeScalars.allSatisfy { $0 != "\u{FFFD}" })
        let body = message.prefix { $0 != "…" }
        #expect(body.allSatisfy { $0 == "é" || $0 == "👍🏽" })
    }

    @Test func escapesCountTowardsTheCap() {
        let message = SafeText.errorMessage(String(repeating: "\u{1B}", count: 5000))
        #expect(message.utf8.count <= 8192)
        #expect(!message.contains("\u{1B}"))
        #expect(message.contains("truncated"))
    }
}

@Suite struct ActivityFailureTextTests {
    @Test func theMessageIsNormalisedWhenBuiltAndWhenChanged() {
        var failure = ActivityFailure(.activityError, String(repeating: "E", count: 20 << 20) + "\n")
        #expect(failure.message.utf8.count <= 8192)
        #expect(failure.message.contains("[truncated: "))
        failure.message = "boom\n2026-12-07T00:00:00+0000 critical moonflow : admin token rotated\u{1B}[2J"
        #expect(failure.message == #"boom\n2026-12-07T00:00:00+0000 critical moonflow : admin token rotated\u{1B}[2J"#)
        #expect(!failure.description.contains("\n"))
        let report = ExecutionReport.ErrorInfo(type: "X", message: "a\u{1B}b")
        #expect(report.message == #"a\u{1B}b"#)
    }

    @Test func typeAndScriptAreCappedToo() {
        let failure = ActivityFailure(ErrorType(String(repeating: "T", count: 10_000)), "m", script: "s\n" + String(repeating: "s", count: 10_000))
        #expect(failure.type.rawValue.utf8.count <= 256)
        #expect(failure.script.map { $0.utf8.count <= 256 && !$0.contains("\n") } == true)
    }
}
