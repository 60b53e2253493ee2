import MoonflowModel
import Testing

@Suite struct RandomUUIDTests {
    @Test func isAVersion4UUIDInLowercaseText() {
        for _ in 0..<1_000 {
            let text = RandomUUID.make()
            let groups = text.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
            #expect(groups.map(\.count) == [8, 4, 4, 4, 12], "\(text)")
            #expect(text.allSatisfy { $0 == "-" || ("0"..."9").contains($0) || ("a"..."f").contains($0) }, "\(text)")
            #expect(groups[2].first == "4", "version of \(text)")
            #expect(["8", "9", "a", "b"].contains(groups[3].first), "variant of \(text)")
        }
    }

    @Test func neverRepeatsAndSpreadsOverEveryDigit() {
        let made = (0..<10_000).map { _ in RandomUUID.make() }
        #expect(Set(made).count == made.count)
        // The 122 random bits reach every hex digit in the positions that are not fixed.
        let firstDigits = Set(made.map { $0.first! })
        #expect(firstDigits.count == 16)
    }

    @Test func compactIsTheSameWithoutDashes() {
        let compact = RandomUUID.compact()
        #expect(compact.count == 32)
        #expect(!compact.contains("-"))
    }
}
