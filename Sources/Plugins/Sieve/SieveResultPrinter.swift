/// Lists a result as Pigeonhole's `sieve-test` does ("Performed actions:" / "Implicit keep:").
public enum SieveResultPrinter {
    public static func format(_ result: SieveResult, defaultMailbox: String = "INBOX") -> String {
        var out = "\nPerformed actions:\n\n"
        let shown = result.actions
        if shown.isEmpty { out += "  (none)\n" }
        for a in shown {
            switch a {
            case .store(let folder, let flags, let copy, let create):
                out += " * store message in folder: \(folder)\n"
                if copy { out += "        + preserve implicit keep\n" }
                if create { out += "        + create mailbox if it does not exist\n" }
                if !flags.isEmpty { out += "        + add IMAP flags: \(SieveFlags.ordered(flags).joined(separator: " "))\n" }
            case .discard:
                out += " * discard\n"
            case .redirect(let to, let copy):
                out += " * redirect message to: <\(to)>\n"
                if copy { out += "        + preserve implicit keep\n" }
            case .reject(let reason, let extended):
                out += " * \(extended ? "ereject" : "reject") message with reason: \(reason)\n"
            case .vacation(let v):
                out += " * send vacation message:\n"
                out += "    => seconds : \(v.seconds)\n"
                if let s = v.subject { out += "    => subject : \(s)\n" }
                if let f = v.from { out += "    => from    : \(f)\n" }
                out += "    => handle  : \(v.handle)\n"
                out += "\nSTART MESSAGE\n\(v.reason)\nEND MESSAGE\n"
            case .notify(let n):
                out += " * send notification with method 'mailto:':\n"
                out += "    => importance   : \(n.importance)\n"
                if let m = n.message ?? n.uriSubject { out += "    => subject      : \(m)\n" }
                if let f = n.from { out += "    => from         : \(f)\n" }
                out += "    => recipients   :\n"
                for r in n.recipients { out += "       + To: \(r)\n" }
                out += "\n"
            case .trackDuplicate:
                out += " * track duplicate\n"
            }
        }
        out += "\nImplicit keep:\n\n"
        if result.implicitKeep {
            out += " * store message in folder: \(defaultMailbox)\n"
            if !result.implicitKeepFlags.isEmpty {
                out += "        + add IMAP flags: \(SieveFlags.ordered(result.implicitKeepFlags).joined(separator: " "))\n"
            }
        } else {
            out += "  (none)\n"
        }
        return out + "\n"
    }
}
