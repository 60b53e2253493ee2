extension RunDriver {
    /// Commits the transition an operation's caller is waiting on (a task completion, a cancel or
    /// terminate, a resumed compensation): a storage fault fails it at once — nothing is stored and
    /// the caller is told — instead of being waited out; what the drive writes after it is retried.
    func commitFailingFast(_ events: [RunEvent]) async throws {
        retriesStorageFaults = false
        defer { retriesStorageFaults = true }
        try await commit(events)
    }
}
