package import Foundation
package import MoonflowModel
import MoonflowYAML

/// Why the secrets could not be read, or a connection names one that is not defined: the runtime
/// does not start.
package struct SecretsError: Error, Sendable, Hashable, CustomStringConvertible {
    package var description: String
    package init(description: String) { self.description = description }
}

/// The values behind `${ secrets.NAME }` (docs/integrations.md): environment variables with
/// `secrets.env_prefix` (`MOONFLOW_SECRET_CRM_TOKEN` is `CRM_TOKEN`), then `secrets.file`, a YAML
/// mapping of names to values that only its owner may read. The file wins over the environment.
package enum SecretsLoader {
    /// The largest secrets file read.
    static let maxFileSize = 1 << 20

    /// Every secret defined, once each connection's secrets are all known to be there.
    package static func load(
        _ config: EngineConfig, project: URL, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Result<[String: String], SecretsError> {
        var secrets: [String: String] = [:]
        if let prefix = config.secretsEnvironmentPrefix, !prefix.isEmpty {
            for (key, value) in environment where key.hasPrefix(prefix) && key.count > prefix.count {
                secrets[String(key.dropFirst(prefix.count))] = value
            }
        }
        if let file = config.secretsFile {
            let url = file.hasPrefix("/") ? URL(fileURLWithPath: file) : project.appendingPathComponent(file)
            switch readFile(url, displayName: file) {
            case .success(let values): secrets.merge(values) { _, file in file }
            case .failure(let error): return .failure(error)
            }
        }
        for connection in config.connections.values {
            for name in connection.secretNames where secrets[name] == nil {
                var sources: [String] = []
                if let prefix = config.secretsEnvironmentPrefix { sources.append("set \(prefix)\(name)") }
                if let file = config.secretsFile { sources.append("add \(name) to \(file)") }
                let how = sources.isEmpty ? "configure 'secrets' (env_prefix or file) in moonflow.yaml" : sources.joined(separator: " or ")
                return .failure(
                    SecretsError(description: "secret '\(name)' used by connection '\(connection.name)' (\(connection.location)) is not defined: \(how)"))
            }
        }
        return .success(secrets)
    }

    /// `NAME: value` pairs of a file nobody but its owner can read.
    static func readFile(_ url: URL, displayName: String) -> Result<[String: String], SecretsError> {
        var info = stat()
        guard stat(url.path, &info) == 0 else {
            return .failure(SecretsError(description: "cannot read the secrets file \(displayName): \(String(cString: strerror(errno)))"))
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            return .failure(SecretsError(description: "the secrets file \(displayName) is not a regular file"))
        }
        guard info.st_mode & 0o077 == 0 else {
            let mode = String(info.st_mode & 0o777, radix: 8)
            return .failure(
                SecretsError(description: "the secrets file \(displayName) is readable by others (mode \(mode)): run chmod 600 \(displayName)"))
        }
        guard info.st_size <= maxFileSize, let data = FileManager.default.contents(atPath: url.path) else {
            return .failure(SecretsError(description: "cannot read the secrets file \(displayName) (at most 1 MB)"))
        }
        let root: YAMLNode
        do {
            root = try YAMLParser.parse(Array(data), file: displayName)
        } catch {
            let first = error.diagnostics.first.map { "\($0.location): \($0.message)" } ?? "not YAML"
            return .failure(SecretsError(description: "the secrets file is not valid YAML: \(first)"))
        }
        if root.resolvedScalar == .null { return .success([:]) }
        guard let pairs = root.mapping else {
            return .failure(SecretsError(description: "the secrets file \(displayName) must be a mapping of NAME: value"))
        }
        var values: [String: String] = [:]
        for pair in pairs {
            // The value is never quoted back: a message names the key and its place only.
            guard let name = pair.key.scalar?.text, SecretReference.name(in: "secrets.\(name)") == name else {
                return .failure(SecretsError(description: "\(pair.key.location): a secret's name must be letters, digits and _"))
            }
            guard let scalar = pair.value.scalar, pair.value.resolvedScalar != .null else {
                return .failure(SecretsError(description: "\(pair.value.location): the secret '\(name)' must be text"))
            }
            values[name] = scalar.text
        }
        return .success(values)
    }
}
