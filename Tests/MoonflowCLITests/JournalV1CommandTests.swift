import Foundation
import Testing

/// A store written before the journal was typed (`Tests/MoonflowStoreTests/Fixtures/JournalV1`):
/// every command its `outputs.txt` records prints today what the binary that wrote the store
/// printed then — run lists, task lists, reports and histories, text and JSON.
@Suite(.timeLimit(.minutes(5))) struct JournalV1CommandTests {
    @Test func listsReportsAndHistoriesAreWhatTheOldBinaryPrinted() async throws {
        let fixture = CLIRunner.repositoryRoot.appendingPathComponent("Tests/MoonflowStoreTests/Fixtures/JournalV1")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("moonflow-journal-v1-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = directory.appendingPathComponent("state.db").path
        try FileManager.default.copyItem(atPath: fixture.appendingPathComponent("state.db").path, toPath: store)

        let text = try String(contentsOf: fixture.appendingPathComponent("outputs.txt"), encoding: .utf8)
        let sections = text.components(separatedBy: "$ moonflow ").dropFirst()
        #expect(sections.count == 70)
        for section in sections {
            let (command, rest) = try #require(section.firstIndex(of: "\n").map { (section[..<$0], section[section.index(after: $0)...]) })
            let exit = try #require(rest.range(of: "[exit ", options: .backwards))
            let arguments = command.split(separator: " ").map(String.init) + ["--store", store]
            let result = try await CLIRunner.run(arguments, in: directory)
            #expect(result.stdout == String(rest[..<exit.lowerBound]), "moonflow \(command)")
            #expect("\(result.status)]\n" == rest[exit.upperBound...], "moonflow \(command)")
        }
    }
}
