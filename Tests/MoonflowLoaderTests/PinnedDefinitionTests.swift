import Foundation
import MoonflowLoader
import MoonflowModel
import OrderedCollections
import Testing

/// A run keeps the definition it started with: `loadPinned` rebuilds it from the stored texts.
@Suite struct PinnedDefinitionTests {
    @Test func thePinnedTextsGiveBackTheSameDefinitionAfterTheFilesChanged() throws {
        let project = try TemporaryProject(files: [
            "workflows/w.yaml": "workflow: w\ninput: {$ref: ../schemas/in.json}\nactivities:\n  - name: a\n  - name: b\n    script: helpers/b.lua\n",
            "scripts/a.lua": "return 1\n",
            "workflows/helpers/b.lua": "return 2\n",
            "schemas/in.json": "{\"$ref\": \"common.json\"}",
            "schemas/common.json": "{\"type\": \"object\"}",
        ])
        let loader = ProjectLoader(projectDirectory: project.url)
        let original = try #require(loader.loadProject().workflow("w"))
        #expect(Array(original.files.keys) == ["workflows/w.yaml", "schemas/in.json", "schemas/common.json", "scripts/a.lua", "workflows/helpers/b.lua"])

        // The project moves on: the script changes and the schema disappears.
        try "return 100\n".write(to: project.url.appendingPathComponent("scripts/a.lua"), atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(at: project.url.appendingPathComponent("schemas/common.json"))

        let pinned = try loader.loadPinned(files: original.files, workflowFile: original.file)
        #expect(pinned == original)
        #expect(pinned.contentHash == original.contentHash)
        guard case .lua(let chunk) = pinned.workflow.activities[0].body else {
            Issue.record("a runs scripts/a.lua")
            return
        }
        #expect(chunk.source == "return 1\n")
    }

    @Test func aPinnedDefinitionLoadsWithoutAnyProjectOnDisk() throws {
        let files: OrderedDictionary<String, String> = [
            "workflows/w.yaml": "workflow: w\nactivities: [{name: a, script: a}]\n", "scripts/a.lua": "return 1\n",
        ]
        let loader = ProjectLoader(projectDirectory: URL(fileURLWithPath: "/nonexistent-moonflow-project"))
        let loaded = try loader.loadPinned(files: files, workflowFile: "workflows/w.yaml")
        #expect(loaded.workflow.id == "w")
        #expect(loaded.files == files)
    }

    @Test func anIncompletePinnedDefinitionIsRefusedWithTheMissingFile() {
        let loader = ProjectLoader(projectDirectory: URL(fileURLWithPath: "/nonexistent-moonflow-project"))
        #expect(throws: ProjectLoadResult.self) {
            try loader.loadPinned(files: ["workflows/w.yaml": "workflow: w\nactivities: [{name: a, script: a}]\n"], workflowFile: "workflows/w.yaml")
        }
        do {
            _ = try loader.loadPinned(files: [:], workflowFile: "workflows/w.yaml")
        } catch {
            #expect(error.diagnostics.map(\.message) == ["the pinned definition has no file 'workflows/w.yaml'"])
        }
    }
}
