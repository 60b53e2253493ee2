import Hummingbird
import Logging

/// `GET /` and `GET /assets/{digest}/{file}`: the web console (`ConsoleAssets`, docs/console.md),
/// served without a token (it holds no data; it asks for one and sends it to the API).
enum ConsoleRoutes {
    static func add(to router: Router<APIContext>, assets: ConsoleAssets?, logger: Logger) {
        if assets == nil {
            logger.warning("the web console's files (moonflow_MoonflowServer.resources) are not beside the executable: GET / answers 503")
        }
        router.get("/") { request, _ in
            guard let assets else { throw unavailable }
            return assets.pageResponse(request)
        }
        router.get("/assets/{digest}/{file}") { _, context in
            guard let assets else { throw unavailable }
            return try assets.assetResponse(digest: try context.parameters.require("digest"), file: try context.parameters.require("file"))
        }
    }

    static var unavailable: APIError {
        APIError(
            .serviceUnavailable, "ConsoleUnavailable",
            "the web console's files are missing: keep moonflow_MoonflowServer.resources beside the moonflow executable")
    }
}
