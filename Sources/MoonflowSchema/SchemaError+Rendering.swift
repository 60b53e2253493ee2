/// Human renderings of validation errors, for the places that validate data (run input, activity
/// input and output, manual-task forms): `input/items/0/price: must be >= 0`.
extension SchemaError {
    /// The failing field as a slash path under `root` (e.g. `input`), without the leading slash;
    /// the root itself when the whole value failed (or `(root)` when `root` is empty).
    package func field(under root: String = "") -> String {
        let path = instancePath.isEmpty ? "" : String(instancePath.dropFirst())
        switch (root.isEmpty, path.isEmpty) {
        case (true, true): return "(root)"
        case (true, false): return path
        case (false, true): return root
        case (false, false): return root + "/" + path
        }
    }

    /// `field: message`.
    package func line(under root: String = "") -> String {
        "\(field(under: root)): \(message)"
    }
}

extension Collection<SchemaError> {
    /// All errors on one line, the first `limit` spelled out: `input/a: must be string; input/b: … (and 2 more)`.
    package func oneLineSummary(under root: String = "", limit: Int = 3) -> String {
        let shown = prefix(limit).map { $0.line(under: root) }.joined(separator: "; ")
        return count > limit ? shown + " (and \(count - limit) more)" : shown
    }

    /// One error per line.
    package func multiLineSummary(under root: String = "") -> String {
        map { $0.line(under: root) }.joined(separator: "\n")
    }
}
