import MoonflowEngine
import Testing

/// The event stream's ids (docs/api.md, "Resuming the event stream").
struct EventPositionTests {
    @Test func idsReadBackWhatTheyWrite() {
        for position in [EventPosition(offset: 0), EventPosition(offset: 41), EventPosition(offset: 41, sub: 2),
            EventPosition(offset: 999_999_999_999_999_999, sub: 999_999_999)] {
            #expect(EventPosition(position.description) == position)
        }
        #expect(EventPosition(offset: 41).description == "41")
        #expect(EventPosition(offset: 41, sub: 1).description == "41.1")
    }

    @Test(arguments: ["", "abc", "-1", "+1", " 1", "1 ", "1.", ".1", "1.2.3", "1e3", "0x1", "١٢", "1234567890123456789", "1.1234567890"])
    func anythingElseIsNotAnId(_ text: String) {
        #expect(EventPosition(text) == nil)
    }

    @Test func positionsOrderByOffsetThenSub() {
        #expect(EventPosition(offset: 41) < EventPosition(offset: 41, sub: 1))
        #expect(EventPosition(offset: 41, sub: 9) < EventPosition(offset: 42))
    }
}
