import Crypto
import Foundation
import Hummingbird
import NIOCore

/// The web console (docs/console.md): `Resources/console`, a resource of this target — one HTML
/// page, a style sheet and plain JavaScript modules, served as they are (no build step).
///
/// `GET /` is the page, revalidated by its `ETag`; the other files are under
/// `/assets/<digest>/<file>`, where the digest covers every file, so they are cached for good
/// (`immutable`) and a new binary's page names new URLs. The page's policy lets only those files
/// run: no inline script or style, no `eval`, and Trusted Types required, so a string can never be
/// assigned to `innerHTML` or any other HTML or script sink — the console builds every node with
/// DOM calls and puts data in as text.
struct ConsoleAssets: Sendable {
    struct Asset: Sendable {
        var body: ByteBuffer
        var contentType: String
    }

    /// The first 16 hex digits of the SHA-256 over every file's name and content.
    let digest: String
    let files: [String: Asset]
    /// `index.html` with its asset URLs pointing under `/assets/<digest>/`.
    let page: ByteBuffer

    var etag: String { "\"\(digest)\"" }

    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
        + "require-trusted-types-for 'script'; trusted-types 'none'"

    /// The placeholder `index.html` holds where the asset URLs' prefix goes.
    static let prefixPlaceholder = "{{assets}}"

    /// The files found next to the executable (or, in a checkout, in the sources); `nil` when none are.
    static let bundled: ConsoleAssets? = locate().flatMap { try? load(from: $0) }

    /// SwiftPM puts a target's resources in `moonflow_MoonflowServer.resources` beside the
    /// executable (a symbolic link to the binary is followed). Tests and `swift run` find them
    /// there too; the sources are the last resort, for a binary run from its checkout.
    static func locate() -> URL? {
        let bundle = "moonflow_MoonflowServer.resources"
        var candidates = [Bundle.main.bundleURL.appendingPathComponent(bundle)]
        if let executable = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            candidates.append(executable.deletingLastPathComponent().appendingPathComponent(bundle))
        }
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Resources")
        candidates.append(sources)
        return candidates.map { $0.appendingPathComponent("console") }
            .first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("index.html").path) }
    }

    static func load(from directory: URL) throws -> ConsoleAssets {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { !$0.hasPrefix(".") }.sorted()
        var hasher = SHA256()
        var contents: [String: Data] = [:]
        for name in names {
            let data = try Data(contentsOf: directory.appendingPathComponent(name))
            contents[name] = data
            hasher.update(data: Array(name.utf8) + [0])
            hasher.update(data: data)
        }
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined().prefix(16)
        guard let index = contents["index.html"].map({ String(decoding: $0, as: UTF8.self) }) else {
            throw CocoaError(.fileNoSuchFile)
        }
        var files: [String: Asset] = [:]
        for (name, data) in contents where name != "index.html" {
            files[name] = Asset(body: ByteBuffer(bytes: data), contentType: contentType(of: name))
        }
        let page = index.split(separator: prefixPlaceholder, omittingEmptySubsequences: false).joined(separator: "/assets/\(digest)")
        return ConsoleAssets(digest: String(digest), files: files, page: ByteBuffer(string: page))
    }

    static func contentType(of name: String) -> String {
        switch name.split(separator: ".").last {
        case "js": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        default: "application/octet-stream"
        }
    }

    /// `GET /`: the page, or 304 when the client's copy (`If-None-Match`) is current.
    func pageResponse(_ request: Request) -> Response {
        var headers: HTTPFields = [
            .contentType: "text/html; charset=utf-8", .contentSecurityPolicy: Self.contentSecurityPolicy, .eTag: etag,
            .cacheControl: "no-cache",
        ]
        if let match = request.headers[.ifNoneMatch], match.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == etag }) {
            headers[.contentType] = nil
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: page))
    }

    /// `GET /assets/{digest}/{file}`: a file of this build; another build's digest is a 404.
    func assetResponse(digest requested: String, file: String) throws -> Response {
        guard requested == digest, let asset = files[file] else {
            throw APIError.notFound("no console asset '\(requested.prefix(64))/\(file.prefix(128))'")
        }
        return Response(
            status: .ok, headers: [.contentType: asset.contentType, .cacheControl: "public, max-age=31536000, immutable"],
            body: ResponseBody(byteBuffer: asset.body))
    }
}
