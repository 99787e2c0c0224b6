import Foundation

/// Generated training and test mail for the Bayes tests: spam and ham drawn from two
/// different vocabularies (with some words shared), and test messages that mix the two in
/// chosen proportions so that the classifier's answer spreads over BAYES_00 … BAYES_99.
struct BayesCorpus {
    var state: UInt64

    init(seed: UInt64) { state = seed &* 6364136223846793005 &+ 1442695040888963407 }

    mutating func next() -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int(state >> 33)
    }

    mutating func pick(_ items: [String]) -> String { items[next() % items.count] }

    static let spamWords = """
        viagra cialis pharmacy discount offer winner lottery prize claim urgent guaranteed refinance mortgage \
        casino bonus jackpot replica watches rolex investment profit bitcoin crypto wallet unclaimed inheritance \
        beneficiary transfer millions dollars cheap pills weight diet miracle income opportunity exclusive deal \
        limited bargain clearance wholesale shipping unsubscribe removal subscribers promotion credit approved \
        loan instant cash payday rates savings membership vip congratulations selected reward voucher giftcard
        """.split(separator: " ").map(String.init)
    static let hamWords = """
        meeting agenda minutes project release build server deploy review patch commit branch merge kernel \
        compiler benchmark quarterly report budget invoice schedule lunch thursday weekend family dinner garden \
        holiday photos conference slides draft document spreadsheet feedback colleague manager team sprint \
        milestone roadmap customer support ticket incident postmortem database migration backup restore cluster \
        network firewall certificate renewal library dependency upgrade changelog tests documentation proposal
        """.split(separator: " ").map(String.init)
    static let sharedWords = "hello thanks please regards today tomorrow week message update question available details".split(separator: " ").map(String.init)

    static let spamSenders = ["promo@deals-example.biz", "winner@lottery-example.info", "noreply@pharma-example.top", "offers@cheap-example.click"]
    static let hamSenders = ["alice@example.org", "bob@example.net", "carol@dev.example.com", "dave@example.org"]

    /// A message whose body words are `spamShare` spam words, the rest ham words (plus a
    /// few shared ones); `index` makes it unique. A `neutral` message has a sender, subject
    /// and link that neither side has seen, so its few words alone decide.
    mutating func message(index: Int, spamShare: Double, words: Int = 60, kind: String, neutral: Bool = false) -> [UInt8] {
        let spammy = spamShare >= 0.5
        let from = neutral ? "someone\(index)@unseen\(index).example" : pick(spammy ? Self.spamSenders : Self.hamSenders)
        var body: [String] = []
        for i in 0..<words {
            if i % 9 == 8 { body.append(pick(Self.sharedWords)); continue }
            let r = Double(next() % 1000) / 1000
            var w = pick(r < spamShare ? Self.spamWords : Self.hamWords)
            if next() % 10 == 0 { w = w.prefix(1).uppercased() + w.dropFirst() }
            body.append(w)
        }
        var lines: [String] = []
        var line = ""
        for (i, w) in body.enumerated() {
            line += (line.isEmpty ? "" : " ") + w
            if i % 11 == 10 { lines.append(line + "."); line = "" }
        }
        if !line.isEmpty { lines.append(line + ".") }
        let subject = neutral ? "note \(index)" : (0..<4).map { _ in pick(Double(next() % 100) / 100 < spamShare ? Self.spamWords : Self.hamWords) }.joined(separator: " ")
        let link = neutral ? "" : spammy ? "http://www.\(pick(["deals", "prizes", "pills"]))-example.biz/\(kind)\(index)" : "https://git.example.org/project/\(kind)\(index)"
        let text = """
            From: \(from)
            To: user@example.com
            Subject: \(subject)
            Message-ID: <\(kind)-\(index)-\(next())@\(from.split(separator: "@").last!)>
            Date: Mon, 2 Mar 2026 10:\(String(format: "%02d", index % 60)):00 +0000
            MIME-Version: 1.0
            Content-Type: text/plain; charset=us-ascii
            X-Corpus-Id: \(index)

            \(lines.joined(separator: "\n"))

            \(neutral ? "" : "See \(link) for more.")

            """
        return Array(text.utf8)
    }
}
