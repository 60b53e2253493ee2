/// Bounds on what one YAML file may cost, checked while it is read (docs/workflow-format.md).
///
/// Every limit protects the engine from hostile or broken files: the size is checked before
/// parsing starts, the depth and alias budgets as soon as they are exceeded, so a rejection costs
/// at most the work done up to that point.
package struct YAMLLimits: Sendable, Hashable {
    /// The largest file accepted, in bytes.
    package var maxFileSize: Int
    /// The deepest nesting of mappings and lists accepted (the root mapping is depth 1; scalars add
    /// no depth). Later recursive walks over a tree (`toValue`, `==`, hashing) are bounded by it.
    package var maxDepth: Int
    /// How many nodes alias expansion may add to a file in total: each `*alias` costs the size of
    /// the anchored subtree, merge keys included. Aliases that stay within it are free to reuse.
    package var maxAliasExpansion: Int

    package init(maxFileSize: Int = 1_048_576, maxDepth: Int = 64, maxAliasExpansion: Int = 10_000) {
        self.maxFileSize = maxFileSize
        self.maxDepth = maxDepth
        self.maxAliasExpansion = maxAliasExpansion
    }
}
