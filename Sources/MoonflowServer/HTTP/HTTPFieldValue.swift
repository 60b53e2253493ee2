/// Header values as the request guards read them on every request, without Foundation's
/// `trimmingCharacters` (it goes through `NSString` on Linux and cost more than the rest of a guard).
enum HTTPFieldValue {
    /// Without the spaces and tabs HTTP allows around a field value.
    static func trimmed(_ value: some StringProtocol) -> Substring {
        var text = Substring(value)
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return text
    }

    /// A `Content-Length` that parses.
    static func contentLength(_ value: String?) -> Int? { value.flatMap { Int(trimmed($0)) } }

    /// HTTP/1.1: a request has a body when it says how long it is (not 0) or that it is chunked.
    static func announcesBody(contentLength: String?, transferEncoding: String?) -> Bool {
        if transferEncoding != nil { return true }
        guard let contentLength else { return false }
        return trimmed(contentLength) != "0"
    }
}
