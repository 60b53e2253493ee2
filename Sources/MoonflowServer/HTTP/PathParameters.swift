import Foundation
import Hummingbird

extension APIContext {
    /// The `{id}` of the path, percent-decoded: ids may hold any character (a child run's id is
    /// `<parent>/<activity>`), so clients encode them (`%2F`) and the router, which splits the raw
    /// path on `/`, hands the encoded segment over.
    func pathID(_ name: String = "id") throws -> String {
        let raw = try parameters.require(name)
        guard let decoded = raw.removingPercentEncoding, !decoded.isEmpty else {
            throw APIError.badBody("'\(raw.prefix(200))' is not a valid percent-encoded id", path: "path.\(name)")
        }
        return decoded
    }
}
