/// An RFC 3463 enhanced status code: `class.subject.detail`, for example `5.1.1`.
///
/// The class says what the sender should do (2 success, 4 try again later, 5 give up); the
/// subject and detail say why. Every delivery outcome in mdad carries one, so LMTP replies,
/// `mdad deliver` exit codes, bounces and log lines all agree.
public struct EnhancedStatus: Hashable, Sendable, CustomStringConvertible {
    public let statusClass: Int
    public let subject: Int
    public let detail: Int

    public init(_ statusClass: Int, _ subject: Int, _ detail: Int) {
        precondition([2, 4, 5].contains(statusClass), "enhanced status class must be 2, 4 or 5")
        self.statusClass = statusClass
        self.subject = subject
        self.detail = detail
    }

    /// Parses `X.Y.Z` (RFC 3463 section 2: class 2, 4 or 5; subject and detail of 1 to 3 digits).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
              parts.allSatisfy({ (1...3).contains($0.count) && $0.allSatisfy(\.isASCIIDigit) }),
              let c = Int(parts[0]), let s = Int(parts[1]), let d = Int(parts[2]),
              [2, 4, 5].contains(c), parts[0].count == 1
        else { return nil }
        self.init(c, s, d)
    }

    public var description: String { "\(statusClass).\(subject).\(detail)" }
    public var isSuccess: Bool { statusClass == 2 }
    public var isTemporary: Bool { statusClass == 4 }
    public var isPermanent: Bool { statusClass == 5 }

    /// 2.0.0 — delivered.
    public static let delivered = EnhancedStatus(2, 0, 0)
    /// 4.3.0 — other or undefined mail system status; what an unexpected error becomes.
    public static let temporaryFailure = EnhancedStatus(4, 3, 0)
    /// 4.3.5 — system incorrectly configured (a configuration error defers, never bounces).
    public static let configurationError = EnhancedStatus(4, 3, 5)
    /// 4.2.0 — other or undefined mailbox status (unwritable mailbox and the like).
    public static let mailboxTemporary = EnhancedStatus(4, 2, 0)
    /// 4.2.2 — mailbox full (over quota), temporary.
    public static let mailboxFull = EnhancedStatus(4, 2, 2)
    /// 4.3.1 — mail system full (the disk is full).
    public static let systemFull = EnhancedStatus(4, 3, 1)
    /// 5.1.1 — bad destination mailbox address (unknown user).
    public static let unknownUser = EnhancedStatus(5, 1, 1)
    /// 5.3.4 — message too big for system.
    public static let messageTooBig = EnhancedStatus(5, 3, 4)
    /// 5.4.6 — routing loop detected.
    public static let mailLoop = EnhancedStatus(5, 4, 6)
    /// 5.7.1 — delivery not authorized, message refused.
    public static let policyRejection = EnhancedStatus(5, 7, 1)
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

/// The outcome of a delivery attempt that did not succeed (or the text of one that did).
///
/// It keeps apart what the peer may see (`text`, sent in an LMTP reply or printed for Postfix to
/// put in a bounce) and what only the log should say (`reason`, which may name paths and errno).
public struct DeliveryStatus: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: EnhancedStatus
    /// Text the client may see; no paths, no internals.
    public var text: String
    /// Text for the log line; defaults to `text`.
    public var reason: String

    public init(_ status: EnhancedStatus, _ text: String, reason: String? = nil) {
        self.status = status
        self.text = text
        self.reason = reason ?? text
    }

    /// `X.Y.Z text`, the form Postfix recognises at the start of a command's output.
    public var description: String { "\(status) \(text)" }

    /// An unexpected error: a bug or an unforeseen condition defers mail, it never bounces it.
    public static func unexpected(_ error: any Error, while doing: String) -> DeliveryStatus {
        DeliveryStatus(.temporaryFailure, "temporary failure while \(doing)",
                       reason: "temporary failure while \(doing): \(error)")
    }
}

/// Exit codes from sysexits.h, as Postfix's local(8) and pipe(8) read a command's status.
///
/// Postfix defers on 75 (EX_TEMPFAIL) and bounces on the others; when the command's output
/// begins with an enhanced status code, Postfix uses that code instead of the one it would
/// derive from the exit status.
public enum SysExit: Int32, Sendable {
    case ok = 0
    case usage = 64
    case dataError = 65
    case noInput = 66
    case noUser = 67
    case noHost = 68
    case unavailable = 69
    case software = 70
    case osError = 71
    case osFile = 72
    case cantCreate = 73
    case ioError = 74
    case tempFail = 75
    case `protocol` = 76
    case noPermission = 77
    case config = 78

    /// What a command's exit code means, as Postfix's sys_exits table reads it (for pipe
    /// deliveries and sendmail): 75 and 71 are temporary, 0 is success, other sysexits codes
    /// have their own status, and anything else is a permanent 5.3.0.
    public static func meaning(ofExitCode code: Int32) -> (status: EnhancedStatus, text: String) {
        switch SysExit(rawValue: code) {
        case .ok: return (.delivered, "delivered")
        case .usage: return (.init(5, 3, 0), "command line usage error")
        case .dataError: return (.init(5, 6, 0), "data format error")
        case .noInput: return (.init(5, 3, 0), "cannot open input")
        case .noUser: return (.init(5, 1, 1), "user unknown")
        case .noHost: return (.init(5, 1, 2), "host name unknown")
        case .unavailable: return (.init(5, 3, 0), "service unavailable")
        case .software: return (.init(5, 3, 0), "internal software error")
        case .osError: return (.init(4, 3, 0), "system resource problem")
        case .osFile: return (.init(5, 3, 0), "critical OS file missing")
        case .cantCreate: return (.init(5, 2, 0), "can't create user output file")
        case .ioError: return (.init(5, 3, 0), "input/output error")
        case .tempFail: return (.init(4, 3, 0), "temporary failure")
        case .protocol: return (.init(5, 5, 0), "remote error in protocol")
        case .noPermission: return (.init(5, 7, 0), "permission denied")
        case .config: return (.init(5, 3, 5), "local configuration error")
        case nil: return (.init(5, 3, 0), "unknown mail system error \(code)")
        }
    }

    /// The exit code that makes Postfix do what `status` asks: deliver, defer or bounce.
    public static func forStatus(_ status: EnhancedStatus) -> SysExit {
        switch (status.statusClass, status.subject, status.detail) {
        case (2, _, _): return .ok
        case (4, _, _): return .tempFail
        case (5, 1, 1), (5, 1, 6): return .noUser
        case (5, 1, _): return .noHost
        case (5, 7, _): return .noPermission
        case (5, 3, 4), (5, 6, _): return .dataError
        case (5, 2, _): return .cantCreate
        default: return .unavailable
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension DeliveryStatus {
    /// The one place where a system error while writing a mailbox becomes a delivery status
    /// (as Postfix's `mbox_dsn`). Every such error is temporary: the disk may be freed, the
    /// permissions fixed, the quota raised, and Postfix tries again.
    public static func mailbox(_ error: SystemError, doing: String) -> DeliveryStatus {
        let status: EnhancedStatus
        let text: String
        switch error.errno {
        case ENOSPC:
            status = .systemFull
            text = "mail system full"
        case EDQUOT, EFBIG:
            status = .mailboxFull
            text = "mailbox full"
        case EAGAIN, ESTALE, EINTR:
            status = .mailboxTemporary
            text = "mailbox temporarily unavailable"
        case EIO:
            status = .temporaryFailure
            text = "I/O error while writing mailbox"
        default:
            status = .mailboxTemporary
            text = "cannot write mailbox: \(error.message)"
        }
        return DeliveryStatus(status, text, reason: "cannot \(doing): \(error)")
    }
}
