internal import CLuaSupport

/// The names a script sees, as registered by the C sandbox: for editor definitions
/// (`scripts/moonflow.d.lua`) and the test that keeps them in sync.
package enum LuaBuiltins {
    /// Globals: allowed base functions, library tables and the invocation's tables.
    package static var globals: [String] {
        (0..<mf_global_name_count()).compactMap { mf_global_name($0).map { String(cString: $0) } }
    }

    /// Host built-ins, qualified (`json.encode`, `uuid`).
    package static var hostFunctions: [String] { qualifiedBuiltins(testOnly: false) }

    /// Test-only host built-ins (`test.ledger`), registered only with a `LuaTestLedger`.
    package static var testFunctions: [String] { qualifiedBuiltins(testOnly: true) }

    private static func qualifiedBuiltins(testOnly: Bool) -> [String] {
        (0..<mf_builtin_count()).filter { (mf_builtin_test_only($0) != 0) == testOnly }.map { index in
            let name = String(cString: mf_builtin_name(index))
            return mf_builtin_library(index).map { "\(String(cString: $0)).\(name)" } ?? name
        }
    }
}
