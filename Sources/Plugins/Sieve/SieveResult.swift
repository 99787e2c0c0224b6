import Pipeline

/// A vacation reply the script asked for (RFC 5230), before the response store and the
/// "never to lists or robots" checks decide whether it goes.
public struct SieveVacation: Sendable, Equatable {
    public var seconds: Int
    public var subject: String?
    public var from: String?
    public var addresses: [String]
    public var mime: Bool
    public var handle: String
    public var reason: String
}

/// An enotify notification (RFC 5435) by the mailto method (RFC 5436).
public struct SieveNotification: Sendable, Equatable {
    public var method: String
    public var from: String?
    public var importance: Int
    public var options: [String]
    public var message: String?
    public var recipients: [String]

    /// The `subject=` header of the mailto URI.
    public var uriSubject: String? {
        guard let q = method.firstIndex(of: "?") else { return nil }
        return SieveNotify.headers(String(method[method.index(after: q)...])).first { $0.0 == "subject" }?.1
    }
}

/// One action of a script's result, as Pigeonhole's result lists it.
public enum SieveAction: Sendable, Equatable {
    /// keep (folder "INBOX") and fileinto.
    case store(folder: String, flags: [String], copy: Bool, create: Bool)
    case discard
    case redirect(to: String, copy: Bool)
    case reject(reason: String, extended: Bool)
    case vacation(SieveVacation)
    case notify(SieveNotification)
    /// The duplicate test's mark, recorded when the message is delivered.
    case trackDuplicate(key: String, seconds: Int)
}

/// What a script decided: its actions, whether the implicit keep is still in force and with
/// which flags, and the header as editheader left it.
public struct SieveResult: Sendable {
    public var actions: [SieveAction] = []
    public var implicitKeep = true
    public var implicitKeepFlags: [String] = []
    /// The header after addheader/deleteheader; nil when the script did not edit it.
    public var editedHeader: HeaderSection?
    public var headerEdited = false

    public init() {}
}

/// IMAP flag lists as imap4flags keeps them: space-separated, system flags case-insensitive.
enum SieveFlags {
    static let system = ["\\answered", "\\flagged", "\\deleted", "\\seen", "\\draft"]

    /// Splits flag strings on spaces; system flags take their lower-case form.
    static func parse(_ strings: [String]) -> [String] {
        var out: [String] = []
        for s in strings {
            for f in s.split(separator: " ") where !f.isEmpty {
                let flag = f.hasPrefix("\\") ? SieveStrings.asciiLower(String(f)) : String(f)
                if !out.contains(where: { SieveStrings.asciiLower($0) == SieveStrings.asciiLower(flag) }) { out.append(flag) }
            }
        }
        return out
    }

    static func add(_ a: [String], _ b: [String]) -> [String] { parse(a + b) }

    static func remove(_ a: [String], _ b: [String]) -> [String] {
        let gone = Set(parse(b).map(SieveStrings.asciiLower))
        return a.filter { !gone.contains(SieveStrings.asciiLower($0)) }
    }

    /// In Pigeonhole's listing order: system flags first, then keywords.
    static func ordered(_ flags: [String]) -> [String] {
        let sys = system.filter { s in flags.contains { SieveStrings.asciiLower($0) == s } }
        return sys + flags.filter { !$0.hasPrefix("\\") }
    }

    /// Only the flags IMAP stores: the system flags of RFC 3501 and keywords (atoms).
    static func storable(_ flags: [String]) -> [String] {
        flags.filter { f in
            if f.hasPrefix("\\") { return system.contains(SieveStrings.asciiLower(f)) }
            return !f.isEmpty && f.utf8.allSatisfy { $0 > 32 && $0 < 127 && !"(){%*\"]\\".utf8.contains($0) }
        }
    }
}
