import Foundation

/// What reading a store's write-ahead log found, in SQLite's WAL format
/// (sqlite.org/fileformat2.html#walformat): a 32-byte header (magic `0x377f0682`/`0x377f0683`,
/// format, page size, checkpoint sequence, two salts, a checksum of the header), then frames of a
/// 24-byte header (page number, database size after commit — nonzero on the frame that commits a
/// transaction —, the two salts again, a checksum) and one page. A frame's checksum continues the
/// one stored in the frame (or header) before it, over its first 8 header bytes and its page.
///
/// When SQLite opens a database it replays the WAL's *valid prefix* — frames that carry the
/// header's salts and whose checksums chain — up to the last commit frame in it, and ignores the
/// rest; the next checkpoint then makes that final. One damaged byte in an early frame therefore
/// drops every transaction after it, silently. `WALScan` finds those transactions: an intact
/// commit frame of this WAL (its salts, its checksum continuing the one stored before it) after
/// the point where the valid prefix ends.
///
/// What it does not call damage, because a crash leaves it: frames of a transaction that never
/// committed (a process killed mid-write leaves them, the last one perhaps half written: SQLite
/// writes a frame's header and its page separately); frames of an earlier generation (after a
/// checkpoint SQLite rewrites the WAL from the start with new salts and leaves the older frames
/// behind); a partial frame at the end. Damage confined to the final transaction's commit frame
/// looks exactly like a commit torn by a crash and is not reported.
struct WALScan: Sendable, Hashable {
    /// Whole frames in the file.
    var frames = 0
    /// Frames SQLite replays: the valid prefix up to its last commit frame.
    var replayedFrames = 0
    /// Transactions SQLite replays (commit frames in the valid prefix).
    var replayedTransactions = 0
    /// 1-based number of the first frame SQLite rejects, when an intact commit frame follows it.
    var damagedFrame: Int?
    /// Intact commit frames after the damage: committed transactions SQLite would drop.
    var strandedTransactions = 0

    static let headerSize = 32
    static let frameHeaderSize = 24
    static let format: UInt32 = 3_007_000

    /// Scans the bytes of a WAL file. `databasePageSize` (from the database file's header) is used
    /// when the WAL header is itself damaged. Nothing but a header-sized file or larger is a WAL.
    init(_ bytes: [UInt8], databasePageSize: Int?) {
        guard bytes.count >= Self.headerSize else { return }
        let magic = Self.word(bytes, 0)
        let headerPageSize = Int(Self.word(bytes, 8))
        let magicIsValid = magic & 0xFFFF_FFFE == 0x377F_0682
        // The magic's low bit says in which byte order the checksums read the data; SQLite writes
        // its machine's order. With a damaged magic, try this machine's (little-endian) first.
        let orders: [Bool] = magicIsValid ? [magic & 1 == 1] : [false, true]
        let pageSize = Self.isPageSize(headerPageSize) ? headerPageSize : (databasePageSize ?? 0)
        guard Self.isPageSize(pageSize) else { return }
        frames = (bytes.count - Self.headerSize) / (Self.frameHeaderSize + pageSize)
        var best: WALScan?
        for bigEndian in orders {
            var scan = self
            scan.walk(bytes, pageSize: pageSize, bigEndian: bigEndian, headerIsValid: magicIsValid && headerPageSize == pageSize)
            if best == nil || scan.strandedTransactions > best!.strandedTransactions { best = scan }
        }
        self = best ?? self
    }

    private mutating func walk(_ bytes: [UInt8], pageSize: Int, bigEndian: Bool, headerIsValid: Bool) {
        let frameSize = Self.frameHeaderSize + pageSize
        let salts = (Self.word(bytes, 16), Self.word(bytes, 20))
        let storedHeaderSum = (Self.word(bytes, 24), Self.word(bytes, 28))
        let headerSum = Self.checksum(bytes, 0..<24, from: (0, 0), bigEndian: bigEndian)
        let headerIsValid = headerIsValid && Self.word(bytes, 4) == Self.format && headerSum == storedHeaderSum
        // SQLite's walk: frames while they are valid; the replayed part ends at the last commit.
        var running = storedHeaderSum
        var valid = 0
        if headerIsValid {
            while valid < frames {
                let offset = Self.headerSize + valid * frameSize
                guard let sum = Self.verify(bytes, offset, pageSize: pageSize, salts: salts, from: running, bigEndian: bigEndian)
                else { break }
                running = sum
                valid += 1
                if Self.word(bytes, offset + 4) != 0 {
                    replayedFrames = valid
                    replayedTransactions += 1
                }
            }
        }
        guard valid < frames else { return }
        // After the break: frames that are intact on their own, each checked against the checksum
        // stored in the frame (or header) before it, so that one damaged frame does not hide the
        // next. A damaged header's salts may be the damage: then the first frame's salts count too.
        var acceptedSalts = [salts]
        if !headerIsValid, frames > 0 {
            acceptedSalts.append((Self.word(bytes, Self.headerSize + 8), Self.word(bytes, Self.headerSize + 12)))
        }
        for index in valid..<frames {
            let offset = Self.headerSize + index * frameSize
            guard Self.word(bytes, offset + 4) != 0 else { continue }
            let previous =
                index == 0
                ? storedHeaderSum : (Self.word(bytes, offset - frameSize + 16), Self.word(bytes, offset - frameSize + 20))
            let intact = acceptedSalts.contains { salts in
                Self.verify(bytes, offset, pageSize: pageSize, salts: salts, from: previous, bigEndian: bigEndian) != nil
            }
            if intact {
                strandedTransactions += 1
                if damagedFrame == nil { damagedFrame = valid + 1 }
            }
        }
    }

    /// The frame's stored checksum when the frame carries `salts`, a page number, and a checksum
    /// that continues `previous`; otherwise nil.
    private static func verify(
        _ bytes: [UInt8], _ offset: Int, pageSize: Int, salts: (UInt32, UInt32), from previous: (UInt32, UInt32), bigEndian: Bool
    ) -> (UInt32, UInt32)? {
        guard word(bytes, offset) != 0, word(bytes, offset + 8) == salts.0, word(bytes, offset + 12) == salts.1 else { return nil }
        let stored = (word(bytes, offset + 16), word(bytes, offset + 20))
        var sum = checksum(bytes, offset..<(offset + 8), from: previous, bigEndian: bigEndian)
        let page = offset + frameHeaderSize
        sum = checksum(bytes, page..<(page + pageSize), from: sum, bigEndian: bigEndian)
        return sum == stored ? stored : nil
    }

    /// SQLite's WAL checksum: over 32-bit words taken two at a time, `s0 += w0 + s1; s1 += w1 + s0`.
    private static func checksum(
        _ bytes: [UInt8], _ range: Range<Int>, from start: (UInt32, UInt32), bigEndian: Bool
    ) -> (UInt32, UInt32) {
        var (s0, s1) = start
        var index = range.lowerBound
        while index + 8 <= range.upperBound {
            let w0 = bigEndian ? word(bytes, index) : littleWord(bytes, index)
            let w1 = bigEndian ? word(bytes, index + 4) : littleWord(bytes, index + 4)
            s0 = s0 &+ w0 &+ s1
            s1 = s1 &+ w1 &+ s0
            index += 8
        }
        return (s0, s1)
    }

    private static func word(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    private static func littleWord(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        UInt32(bytes[offset + 3]) << 24 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset])
    }

    private static func isPageSize(_ size: Int) -> Bool { size >= 512 && size <= 65536 && size & (size - 1) == 0 }
}

extension StoreFileCheck {
    /// Refuses a store whose WAL holds committed transactions SQLite would drop (`WALScan`), before
    /// anything opens it: opening would replay only the valid prefix and the first checkpoint would
    /// make the loss final. The WAL and the database are only read.
    static func checkWAL(_ path: String) throws(StoreOpenError) {
        let walPath = path + "-wal"
        guard let data = FileManager.default.contents(atPath: walPath), data.count >= WALScan.headerSize else { return }
        let scan = WALScan([UInt8](data), databasePageSize: databasePageSize(path))
        guard scan.strandedTransactions > 0, let damaged = scan.damagedFrame else { return }
        throw .corruptWAL(
            path: path,
            detail: "frame \(damaged) of \(scan.frames) fails its checksum, and \(scan.strandedTransactions) committed "
                + "transaction(s) after it would be lost (SQLite would keep only the \(scan.replayedTransactions) before it)")
    }

    /// The page size in the database file's header (bytes 16–17, big-endian; 1 means 65536).
    static func databasePageSize(_ path: String) -> Int? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let header = try? handle.read(upToCount: 18), header.count == 18 else { return nil }
        let size = Int(header[16]) << 8 | Int(header[17])
        return size == 1 ? 65536 : size
    }
}
