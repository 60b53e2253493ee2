import HTTPTypes
import Hummingbird
import MoonflowModel

extension Request {
    /// The request's W3C `traceparent` (docs/api.md): the run it starts continues the caller's
    /// trace. One that does not parse is ignored, as the W3C Trace Context specification asks (a
    /// fresh trace starts), and so is a repeated field.
    var traceParent: TraceParent? {
        let values = headers[values: HTTPField.Name.traceParent]
        guard values.count == 1 else { return nil }
        return TraceParent(header: values[0])
    }
}

extension HTTPField.Name {
    static let traceParent = Self("traceparent")!
}
