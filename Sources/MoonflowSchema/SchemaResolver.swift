package import Foundation
package import MoonflowModel

/// Supplies the schema documents that `$ref`, `$dynamicRef` and `$schema` name by absolute URI.
///
/// Called only while a schema compiles, never during validation. Return `nil` when the URI is not
/// yours (the next source is asked, and in the end an unresolved reference is a compile error);
/// throw when it is yours but cannot be served (unreadable, invalid JSON, outside the root).
package protocol SchemaResolver: Sendable {
    func schema(for uri: URL) throws -> Value?
}

/// Why a resolver refused or failed to produce a document.
package struct SchemaResolutionError: Error, Sendable, Equatable, CustomStringConvertible {
    package var uri: String
    package var message: String

    package init(uri: String, message: String) {
        self.uri = uri
        self.message = message
    }

    package var description: String { "\(uri): \(message)" }
}

/// Serves JSON files under one directory (a project's `schemas/`), refusing anything outside it.
///
/// `file:` URIs are served when their path, with `..` and symbolic links resolved, lies under
/// `root`. With `publicBase` (e.g. `https://moonflow.dev/schemas/`), URIs under that prefix map to
/// the same relative paths under `root`, so schemas can carry stable `https` `$id`s.
package struct FileSchemaResolver: SchemaResolver {
    package let root: URL
    package let publicBase: String?
    /// The largest schema file served.
    package static let maxFileSize = 1 << 20

    package init(root: URL, publicBase: URL? = nil) {
        self.root = root.standardizedFileURL.resolvingSymlinksInPath()
        self.publicBase = publicBase?.absoluteString
    }

    package func schema(for uri: URL) throws -> Value? {
        let file: URL
        if uri.isFileURL {
            file = URL(fileURLWithPath: uri.path)
        } else if let publicBase, uri.absoluteString.hasPrefix(publicBase) {
            let relative = String(uri.absoluteString.dropFirst(publicBase.count))
            guard let decoded = percentDecoded(relative) else {
                throw SchemaResolutionError(uri: uri.absoluteString, message: "malformed percent-encoding")
            }
            file = root.appendingPathComponent(decoded)
        } else {
            return nil
        }
        let resolved = file.standardizedFileURL.resolvingSymlinksInPath()
        let rootPath = root.path.hasSuffix("/") ? root.path : root.path + "/"
        guard resolved.path.hasPrefix(rootPath) else {
            throw SchemaResolutionError(
                uri: uri.absoluteString, message: "refused: the file is outside the schema directory \(root.path)")
        }
        // Only regular files, within a size limit: a FIFO or a device under the root would block
        // or never end. (The project loader reads schemas with its stricter `ProjectFileReader`;
        // this resolver serves `moonflow schema check`, whose files the operator names.)
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: resolved.path) else { return nil }
        guard attributes[.type] as? FileAttributeType == .typeRegular else {
            throw SchemaResolutionError(uri: uri.absoluteString, message: "refused: \(resolved.path) is not a regular file")
        }
        guard (attributes[.size] as? Int ?? 0) <= Self.maxFileSize else {
            throw SchemaResolutionError(uri: uri.absoluteString, message: "refused: \(resolved.path) is larger than \(Self.maxFileSize) bytes")
        }
        guard let data = FileManager.default.contents(atPath: resolved.path) else { return nil }
        do {
            return try Value(json: [UInt8](data))
        } catch {
            throw SchemaResolutionError(uri: uri.absoluteString, message: "\(resolved.path):\(error)")
        }
    }
}

/// Serves documents from memory by absolute URI (fragment ignored): for tests and embedded catalogues.
package struct InMemorySchemaResolver: SchemaResolver {
    package var documents: [String: Value]

    package init(_ documents: [String: Value]) {
        self.documents = documents
    }

    package func schema(for uri: URL) throws -> Value? {
        documents[URIReference(uri.absoluteString).withoutFragment]
    }
}
