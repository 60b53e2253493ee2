/// What the keywords of one schema evaluated at one instance location: the properties and
/// items that `unevaluatedProperties` / `unevaluatedItems` must then leave alone.
/// Collected only when the program uses those keywords; dropped with a failing subschema.
struct Annotations {
    var allProperties = false
    var properties: Set<String> = []
    var allItems = false
    /// Items `0..<itemPrefix` were evaluated (by `prefixItems`).
    var itemPrefix = 0
    /// Items matched by `contains`.
    var items: Set<Int> = []

    mutating func merge(_ other: Annotations) {
        allProperties = allProperties || other.allProperties
        if !other.properties.isEmpty { properties.formUnion(other.properties) }
        allItems = allItems || other.allItems
        itemPrefix = max(itemPrefix, other.itemPrefix)
        if !other.items.isEmpty { items.formUnion(other.items) }
    }

    func evaluated(property: String) -> Bool { allProperties || properties.contains(property) }
    func evaluated(item: Int) -> Bool { allItems || item < itemPrefix || items.contains(item) }
}
