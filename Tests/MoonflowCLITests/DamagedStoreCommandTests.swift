import Foundation
import MoonflowModel
import Testing

/// What `moonflow` does with a store whose WAL is damaged (docs/durability.md): every command
/// refuses it with the file and the way to recover, exit 1, the files untouched; with
/// `--accept-wal-loss` it opens as SQLite would.
@Suite(.serialized, .timeLimit(.minutes(2))) struct DamagedStoreCommandTests {
    @Test func aDamagedWALIsRefusedWithTheWayToRecover() async throws {
        let project = try CrashProject()
        await #expect(try project.moonflow(["run", "linear", "--run-id", "l1"]).status == 0)
        // Killed before any checkpoint: the WAL keeps every transaction of r2 so far.
        await #expect(try project.moonflow(["run", "linear", "--run-id", "r2"], failpoints: "after_commit:activity_completed:b").status == 137)
        let store = project.directory.appendingPathComponent(".moonflow/state.db").path
        var wal = try [UInt8](Data(contentsOf: URL(fileURLWithPath: store + "-wal")))
        let pageSize = Int(wal[8]) << 24 | Int(wal[9]) << 16 | Int(wal[10]) << 8 | Int(wal[11])
        let frames = (wal.count - 32) / (24 + pageSize)
        // Damage the first frame of the last committed transaction (r2's), so a committed
        // transaction follows the damage whether or not l1's process checkpointed on exit (it
        // does not always: then l1's frames are in this WAL too, and damaging frame 1 would lose
        // the schema itself).
        let commits = (0..<frames).filter { index in
            let header = 32 + index * (24 + pageSize)
            return wal[(header + 4)..<(header + 8)].contains { $0 != 0 }
        }
        #expect(commits.count >= 2)
        let damaged = commits[commits.count - 2] + 1  // 0-based index of the frame after the second-to-last commit
        wal[32 + damaged * (24 + pageSize) + 24 + 200] ^= 0x10  // a byte of that frame's page
        try Data(wal).write(to: URL(fileURLWithPath: store + "-wal"))
        let files = { ["", "-wal", "-shm"].map { FileManager.default.contents(atPath: store + $0) } }
        let before = files()

        for command in [["runs", "list"], ["runs", "resume"], ["run", "linear", "--run-id", "r3"], ["serve", "--insecure-no-auth", "--port", "0"]] {
            let refused = try await project.moonflow(command)
            #expect(refused.status == 1, "\(command)")
            #expect(refused.stderr.contains("error: \(store)-wal is damaged: frame \(damaged + 1) of \(frames)"), "\(refused.stderr)")
            #expect(refused.stderr.contains("committed transaction(s) after it would be lost"))
            #expect(refused.stderr.contains("--accept-wal-loss"))
            #expect(refused.stdout.isEmpty)
        }
        #expect(files() == before)

        let accepted = try await project.moonflow(["runs", "list", "--accept-wal-loss"])
        #expect(accepted.status == 0, "\(accepted.stderr)")
        #expect(accepted.stdout.contains("l1"))
        try await project.expectConsistent()
    }
}
