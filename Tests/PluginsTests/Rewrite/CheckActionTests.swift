import Testing
@testable import Pipeline
@testable import Plugins

@Suite("rewrite: header_checks actions")
struct CheckActionTests {
    @Test func parsesEveryAction() {
        #expect(CheckAction.parse("REJECT spam here") == .reject(DeliveryStatus(.policyRejection, "spam here")))
        #expect(CheckAction.parse("reject") == .reject(DeliveryStatus(.policyRejection, "message content rejected")))
        #expect(CheckAction.parse("REJECT 4.7.0 later") == .reject(DeliveryStatus(EnhancedStatus(4, 7, 0), "later")))
        #expect(CheckAction.parse("DISCARD x") == .discard("x"))
        #expect(CheckAction.parse("IGNORE") == .ignore)
        #expect(CheckAction.parse("REPLACE X-A: b") == .replace("X-A: b"))
        #expect(CheckAction.parse("PREPEND X-A: b") == .prepend("X-A: b"))
        #expect(CheckAction.parse("WARN w") == .warn("w"))
        #expect(CheckAction.parse("INFO i") == .info("i"))
        #expect(CheckAction.parse("HOLD h") == .hold("h"))
        #expect(CheckAction.parse("DUNNO") == CheckAction.none)
        #expect(CheckAction.parse("OK") == CheckAction.none)
        #expect(CheckAction.parse("REDIRECT a@b") == .unsupported("REDIRECT"))
        #expect(CheckAction.parse("frobnicate") == .invalid("frobnicate"))
    }
}
