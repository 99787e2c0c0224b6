import Pipeline

/// The command line of `mdad deliver`, parsed by hand in getopt's manner.
///
/// `mdad deliver` runs once per message, so its start-up time is part of every delivery; a
/// generic argument parser's reflection costs more than the whole parse. The syntax is
/// dovecot-lda's: `-d USER`, `-a ADDRESS`, `-r ADDRESS`, `-f SENDER`, `-m MAILBOX`, `-c DIR`,
/// `-o name=value` (repeatable), `-e`; an option's value may follow it (`-d alice`) or be
/// attached (`-dalice`); `--` ends the options. An empty value is a value (`-f ''` is the null
/// sender).
public enum DeliverArguments {
    public struct UsageError: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    public enum Parsed: Sendable, Equatable {
        case deliver(DeliverOptions)
        case help
    }

    public static let usage = """
        usage: mdad deliver [-c DIR] [-d USER] [-a ADDRESS] [-r ADDRESS] [-f SENDER] [-m MAILBOX]
                            [-o name=value]... [-e] < message

        Delivers one message from standard input to one local user's Maildir, as Postfix's
        mailbox_command runs it:  mailbox_command = mdad deliver -f "$SENDER" -a "$RECIPIENT"

          -c DIR        configuration directory (default: $MDAD_CONFIG_DIR, else /etc/mdad)
          -d USER       destination user (default: the user in $USER, else the user running mdad)
          -a ADDRESS    original recipient
          -r ADDRESS    final recipient (default: the -a address); used in Delivered-To
          -f SENDER     envelope sender; '' or '<>' is the null sender; used in Return-Path
          -m MAILBOX    folder for the message (default INBOX); an unusable name means INBOX
          -o name=value override a main.cf parameter
          -e            report errors through the exit code (always the case)

        Exit codes (sysexits.h, as Postfix reads them): 0 delivered; 67 unknown user; 77 refused
        by policy; 65 unusable input (too large); 69 mail loop; 75 temporary failure (Postfix
        retries). On failure the first line of standard error starts with the enhanced status code.

        """

    public static func parse(_ arguments: [String]) throws(UsageError) -> Parsed {
        var options = DeliverOptions()
        var i = 0
        while i < arguments.count {
            let arg = arguments[i]
            i += 1
            if arg == "--" { break }
            if arg == "-h" || arg == "--help" { return .help }
            guard arg.hasPrefix("-"), arg.count >= 2, !arg.hasPrefix("--") else {
                throw UsageError(description: "unexpected argument \"\(arg)\"")
            }
            let letter = arg[arg.index(after: arg.startIndex)]
            if letter == "e" {
                guard arg.count == 2 else { throw UsageError(description: "-e takes no value") }
                continue
            }
            guard "cdarfmoA".contains(letter) else {
                throw UsageError(description: "unknown option \(arg)")
            }
            let value: String
            if arg.count > 2 {
                value = String(arg.dropFirst(2))
            } else {
                guard i < arguments.count else { throw UsageError(description: "option -\(letter) needs a value") }
                value = arguments[i]
                i += 1
            }
            switch letter {
            case "c": options.configDirectory = value
            case "d": options.destinationUser = value
            case "a": options.originalRecipient = value
            case "r": options.finalRecipient = value
            case "f": options.sender = value
            case "m": options.mailbox = value
            case "A": options.actions.append(try ActionArgument.decode(value))
            default: options.overrides.append(value)
            }
        }
        if i < arguments.count {
            throw UsageError(description: "unexpected argument \"\(arguments[i])\"")
        }
        return .deliver(options)
    }
}

#if canImport(Glibc)
import Glibc
#endif

extension LocalDeliveryAgent {
    /// What a delivering process needs before anything else: a file-size limit must surface as
    /// EFBIG (a deferral), not kill the process; a closed pipe must surface as EPIPE.
    public static func prepareProcess() {
        signal(SIGXFSZ, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
    }

    /// `mdad deliver ARGS` and `mdad-deliver ARGS`: parse, deliver, report; a usage error is the
    /// administrator's mistake, so it defers (75) rather than bounce.
    public static func runFromCommandLine(_ args: [String], registry: StageRegistry = .builtin) async -> SysExit {
        let parsed: DeliverArguments.Parsed
        do {
            parsed = try DeliverArguments.parse(args)
        } catch {
            try? Posix.writeAll(2, Array("\(EnhancedStatus.configurationError) mdad deliver: \(error.description)\n".utf8))
            return .tempFail
        }
        switch parsed {
        case .help:
            try? Posix.writeAll(1, Array(DeliverArguments.usage.utf8))
            return .ok
        case .deliver(let options):
            return await LocalDeliveryAgent(registry: registry).runAndReport(options)
        }
    }
}

/// `-A`: one recipient action on the command line, for the LMTP server's privileged child
/// (internal; fields separated by tabs, which no field may contain).
public enum ActionArgument {
    public static func encode(_ action: RecipientAction) -> String? {
        let fields: [String]
        switch action {
        case .store(let folder, let flags): fields = ["store", folder ?? "", flags.joined(separator: " ")]
        case .discard: fields = ["discard"]
        case .pipe(let command): fields = ["pipe", command]
        case .file(let path, let format):
            switch format {
            case .mbox: fields = ["file", "mbox", path]
            case .maildir: fields = ["file", "maildir", path]
            case .mh: fields = ["file", "mh", path]
            case .directory(let prefix): fields = ["file", "directory=" + prefix, path]
            }
        case .redirect, .send: return nil
        }
        guard !fields.contains(where: { $0.contains("\t") || $0.contains("\0") }) else { return nil }
        return fields.joined(separator: "\t")
    }

    public static func decode(_ text: String) throws(DeliverArguments.UsageError) -> RecipientAction {
        let f = text.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        switch (f.first, f.count) {
        case ("store", 3):
            return .store(folder: f[1].isEmpty ? nil : f[1], flags: f[2].split(separator: " ").map(String.init))
        case ("discard", 1): return .discard
        case ("pipe", 2): return .pipe(command: f[1])
        case ("file", 3):
            let formats: [String: FileFormat] = ["mbox": .mbox, "maildir": .maildir, "mh": .mh]
            if let format = formats[f[1]] { return .file(path: f[2], format: format) }
            if f[1].hasPrefix("directory=") { return .file(path: f[2], format: .directory(prefix: String(f[1].dropFirst(10)))) }
        default: break
        }
        throw DeliverArguments.UsageError(description: "bad -A action \"\(text)\"")
    }
}
