import MoonflowModel

/// The id of a manual task: `<run>:<activity>:<attempt>`. Activity names and attempts never hold a
/// `:`, so reading from the right names one run, one activity and one attempt: two tasks of
/// different runs never share an id, whatever the run ids (which may hold `.`, `:` and, for child
/// runs, `/`) and activity names (which may hold `.`) are. `.` used to separate them: run `a.b`'s
/// activity `c` and run `a`'s activity `b.c` both had `a.b.c.1`, and one task hid the other.
enum TaskID {
    static func make(run: RunID, activity: String, attempt: Int) -> String { "\(run):\(activity):\(attempt)" }
}
