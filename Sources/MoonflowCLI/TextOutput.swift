import Foundation
import MoonflowModel
import MoonflowRuntime
import Synchronization

/// Lists printed as text: columns aligned, each padded to its widest cell (the last is not
/// padded), two spaces apart; control characters in a cell are escaped.
enum TextTable {
    static func lines(_ rows: [[String]]) -> [String] {
        let cells = rows.map { $0.map(SafeText.escapingControls) }
        let columns = cells.map(\.count).max() ?? 0
        let widths = (0..<columns).map { column in cells.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
        return cells.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count)
            }.joined(separator: "  ")
        }
    }

    static func print(_ rows: [[String]]) {
        for line in lines(rows) { Swift.print(line) }
    }
}

/// A progress line for long work (`bench`, `runs resume`), shown only when standard error is a
/// terminal and the logs are text: it is rewritten in place and erased when the work ends, so
/// nothing of it stays in the output, and a pipe or a JSON log never sees it.
final class ProgressLine: Sendable {
    private let enabled: Bool

    init() {
        enabled = isatty(STDERR_FILENO) == 1 && StandardErrorLog.format == .text
    }

    func show(_ text: String) {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K\(SafeText.escapingControls(text))".utf8))
    }

    func clear() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
    }
}
