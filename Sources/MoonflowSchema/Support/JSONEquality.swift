import MoonflowModel

/// JSON Schema's equality (`const`, `enum`, `uniqueItems`): numbers by value (`1 == 1.0`),
/// objects regardless of key order, arrays element by element.
func jsonEqual(_ a: Value, _ b: Value) -> Bool {
    switch (a, b) {
    case (.null, .null): return true
    case let (.bool(x), .bool(y)): return x == y
    case let (.string(x), .string(y)):
        // Code points, not Swift's canonical equivalence: "e\u{301}" is not "\u{e9}" in JSON.
        return x.unicodeScalars.elementsEqual(y.unicodeScalars)
    case (.int, .int), (.int, .double), (.double, .int), (.double, .double):
        return JSONNumber(a)!.compare(JSONNumber(b)!) == 0
    case let (.array(x), .array(y)):
        guard x.count == y.count else { return false }
        return zip(x, y).allSatisfy { jsonEqual($0, $1) }
    case let (.object(x), .object(y)):
        guard x.count == y.count else { return false }
        for (key, value) in x {
            guard let other = y[key], jsonEqual(value, other) else { return false }
        }
        return true
    default:
        return false
    }
}

/// A hash agreeing with `jsonEqual`: integral doubles hash like the integer they equal.
func jsonHash(_ value: Value, into hasher: inout Hasher) {
    switch value {
    case .null: hasher.combine(0)
    case .bool(let b): hasher.combine(1); hasher.combine(b)
    case .int(let i): hasher.combine(2); hasher.combine(i)
    case .double(let d):
        if d == d.rounded(), d >= -9.2e18, d <= 9.2e18 {
            hasher.combine(2); hasher.combine(Int64(d))
        } else {
            hasher.combine(3); hasher.combine(d)
        }
    case .string(let s): hasher.combine(4); hasher.combine(s)
    case .array(let items):
        hasher.combine(5); hasher.combine(items.count)
        for item in items { jsonHash(item, into: &hasher) }
    case .object(let members):
        hasher.combine(6); hasher.combine(members.count)
        var sum = 0
        for (key, member) in members {
            var h = Hasher()
            h.combine(key)
            jsonHash(member, into: &h)
            sum &+= h.finalize()
        }
        hasher.combine(sum)
    }
}

/// The first pair of equal items (by `jsonEqual`), if any.
func firstDuplicate(in items: [Value]) -> (Int, Int)? {
    var buckets: [Int: [Int]] = [:]
    for (index, item) in items.enumerated() {
        var hasher = Hasher()
        jsonHash(item, into: &hasher)
        let key = hasher.finalize()
        for earlier in buckets[key, default: []] where jsonEqual(items[earlier], item) {
            return (earlier, index)
        }
        buckets[key, default: []].append(index)
    }
    return nil
}
