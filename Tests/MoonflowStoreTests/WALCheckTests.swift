import Foundation
import GRDB
import MoonflowEngine
import MoonflowModel
@testable import MoonflowStore
import Testing

/// The WAL check on open (`WALScan`): a WAL whose committed transactions SQLite would drop is
/// refused untouched; what a crash leaves (an unfinished or torn last transaction, frames of an
/// older generation) opens as before.
@Suite(.timeLimit(.minutes(2))) struct WALCheckTests {
    /// The files of a store holding `runs` acknowledged runs, all of them still in the WAL, as a
    /// process killed before a checkpoint leaves them (copied while the store is open and idle).
    static func snapshot(runs: Int, afterRestart extra: Int = 0) async throws -> (StoreFixture, [UInt8]) {
        let live = try StoreFixture(workflows: ["three": threeSteps])
        let copy = try StoreFixture(workflows: ["three": threeSteps])
        let store = try live.open()
        try await store.pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_autocheckpoint = 0") }
        let engine = live.engine(store)
        for index in 0..<runs {
            _ = try await engine.start(try live.pinned("three"), input: ["i": .int(Int64(index))], runID: "r\(index)")
            #expect(try await engine.drive("r\(index)") == .completed)
        }
        if extra > 0 {
            // Copy everything into the database and start the WAL over: the next transactions
            // overwrite its first frames with new salts and leave the older frames behind them.
            _ = try await store.pool.writeWithoutTransaction { db in try db.checkpoint(.restart) }
            for index in 0..<extra {
                _ = try await engine.start(try live.pinned("three"), input: [:], runID: "late\(index)")
                #expect(try await engine.drive("late\(index)") == .completed)
            }
        }
        try FileManager.default.createDirectory(
            at: URL(fileURLWithPath: copy.storePath).deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: live.storePath, toPath: copy.storePath)
        let wal = try [UInt8](Data(contentsOf: URL(fileURLWithPath: live.storePath + "-wal")))
        return (copy, wal)
    }

    static func write(_ bytes: [UInt8], to path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

    static func files(_ fixture: StoreFixture) -> [String: Data?] {
        Dictionary(uniqueKeysWithValues: ["", "-wal", "-shm"].map { ($0, FileManager.default.contents(atPath: fixture.storePath + $0)) })
    }

    static func pageSize(_ wal: [UInt8]) -> Int { Int(wal[8]) << 24 | Int(wal[9]) << 16 | Int(wal[10]) << 8 | Int(wal[11]) }

    @Test func oneFlippedByteInAnEarlyFrameIsRefusedUntouched() async throws {
        let (fixture, wal) = try await Self.snapshot(runs: 30)
        let scan = WALScan(wal, databasePageSize: nil)
        #expect(scan.damagedFrame == nil)
        #expect(scan.replayedFrames == scan.frames)
        var damaged = wal
        let frameSize = 24 + Self.pageSize(wal)
        damaged[32 + 2 * frameSize + 24 + 100] ^= 0x01  // a byte of the third frame's page
        try Self.write(damaged, to: fixture.storePath + "-wal")
        let before = Self.files(fixture)
        #expect {
            _ = try fixture.open()
        } throws: { error in
            guard case StoreOpenError.corruptWAL(let path, let detail) = error else { return false }
            let message = "\(error)"
            return path == fixture.storePath && detail.contains("frame 3 of \(scan.frames)")
                && message.contains(fixture.storePath + "-wal is damaged") && message.contains("--accept-wal-loss")
        }
        #expect(Self.files(fixture) == before)
        // What opening did before the check: SQLite keeps the transactions before the damage.
        let accepted = try fixture.open(SQLiteStoreOptions(acceptWALLoss: true))
        let kept = try await accepted.runs(status: nil)
        print("wal: \(scan.frames) frames; after the flip SQLite keeps \(kept.count) of 30 runs, \(kept.filter { $0.status == .completed }.count) completed")
        #expect(kept.count < 30 || kept.contains { $0.status != .completed })
        try await expectConsistent(accepted)
    }

    @Test func anIntactWALOpensWithEveryRun() async throws {
        let (fixture, wal) = try await Self.snapshot(runs: 30)
        try Self.write(wal, to: fixture.storePath + "-wal")
        let store = try fixture.open()
        #expect(try await store.runs(status: nil).map(\.status) == Array(repeating: .completed, count: 30))
        try await expectConsistent(store)
    }

    @Test func aTransactionTornByACrashOpensWithoutIt() async throws {
        let (fixture, wal) = try await Self.snapshot(runs: 5)
        let frameSize = 24 + Self.pageSize(wal)
        let frames = (wal.count - 32) / frameSize
        // The last frame (a commit) got its header but not its page; then half a frame more.
        var torn = Array(wal.prefix(32 + frames * frameSize))
        for offset in (32 + (frames - 1) * frameSize + 24)..<torn.count { torn[offset] = 0 }
        torn += Array(repeating: 0x5A, count: frameSize / 2)
        try Self.write(torn, to: fixture.storePath + "-wal")
        #expect(WALScan(torn, databasePageSize: nil).strandedTransactions == 0)
        let store = try fixture.open()
        #expect(try await store.runs(status: nil).count == 5)
        try await expectConsistent(store)
    }

    @Test func anUnfinishedLastTransactionOpens() async throws {
        let (fixture, wal) = try await Self.snapshot(runs: 5)
        let frameSize = 24 + Self.pageSize(wal)
        let frames = (wal.count - 32) / frameSize
        // Cut inside the last transaction: its frames before the commit frame are there, not the commit.
        let cut = Array(wal.prefix(32 + (frames - 1) * frameSize))
        try Self.write(cut, to: fixture.storePath + "-wal")
        #expect(WALScan(cut, databasePageSize: nil).strandedTransactions == 0)
        let store = try fixture.open()
        #expect(try await store.runs(status: nil).count == 5)
        try await expectConsistent(store)
    }

    @Test func framesOfAnEarlierGenerationAreNotDamage() async throws {
        let (fixture, wal) = try await Self.snapshot(runs: 20, afterRestart: 1)
        let scan = WALScan(wal, databasePageSize: nil)
        #expect(scan.replayedFrames < scan.frames)
        #expect(scan.strandedTransactions == 0)
        try Self.write(wal, to: fixture.storePath + "-wal")
        let store = try fixture.open()
        #expect(try await store.runs(status: nil).count == 21)
        try await expectConsistent(store)
    }
}
