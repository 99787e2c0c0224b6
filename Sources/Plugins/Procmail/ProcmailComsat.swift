#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// procmail's comsat(8)/biff(1) notification: when it ends, procmail sends one UDP datagram
/// `$LOGNAME@offset:/absolute/folder` (procmail(1), "Notified comsat"), so a biff-enabled
/// terminal shows the new mail.
///
/// COMSAT (procmailrc(5)) switches it: unset or true means `biff@localhost`; `no`, `off`, `0`
/// … switch it off; `service@`, `@host` and `service@host` choose the port (a number or a name
/// from /etc/services) and host. procmail makes it `no` when an rc file is named on the command
/// line (so `-m` never notifies). mdad sends to 127.0.0.1 only: a COMSAT naming another host
/// sends nothing (a mail delivery agent has no business sending datagrams off the host).
public enum ProcmailComsat {
    /// The UDP port a COMSAT value asks for, nil when it is off or names a host other than
    /// this one.
    public static func port(_ setting: String) -> UInt16? {
        var service = ""
        if let at = setting.firstIndex(of: "@") {
            service = String(setting[..<at])
            let host = setting[setting.index(after: at)...]
            guard host.isEmpty || host == "localhost" || host == "127.0.0.1" else { return nil }
        } else if !isOn(setting) {
            return nil
        }
        if service.isEmpty { service = "biff" }
        if let n = Int(service) { return n > 0 && n < 65536 ? UInt16(n) : nil }
        guard service.count < 64, let entry = getservbyname(service, "udp") else { return nil }
        return UInt16(bigEndian: UInt16(truncatingIfNeeded: entry.pointee.s_port))
    }

    /// procmail's reading of a boolean with a default of "on" (its `renvint(-1, …)`): a
    /// number is itself; `a`, `on`, `y…`, `t…`, `e…` are on; `off`, `n…`, `f…`, `d…` are off;
    /// anything else (the empty string too) is on.
    static func isOn(_ value: String) -> Bool {
        let digits = value.prefix { $0 == "-" || $0 == "+" || $0.isNumber }
        if let n = Int(digits), !digits.isEmpty { return n != 0 }
        let v = value.drop { $0 == " " || $0 == "\t" }.lowercased()
        if v.hasPrefix("off") || v.hasPrefix("n") || v.hasPrefix("f") || v.hasPrefix("d") { return false }
        return true
    }

    /// The datagram: `logname@offset:folder`, the offset left out when the mail last went to a
    /// command; a folder not starting with `/` gets `maildir` in front (a command line too, as
    /// procmail 3.22 does), unless `maildir` is nil (`**Bounced**`).
    public static func payload(logName: String, offset: Int, folder: String, maildir: String?) -> String {
        var text = logName + "@"
        if offset >= 0 { text += String(offset) }
        text += ":"
        if let maildir, !folder.hasPrefix("/") { text += maildir + "/" }
        return text + folder
    }

    /// Sends `text` (at most 1 KiB) to 127.0.0.1:`port`; a failure is not an error (biff is a
    /// courtesy).
    public static func send(_ text: String, port: UInt16) {
        let s = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard s >= 0 else { return }
        defer { close(s) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let bytes = Array(text.utf8.prefix(1024))
        _ = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                sendto(s, bytes, bytes.count, Int32(MSG_DONTWAIT), sa, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }
}

extension ProcmailInterpreter {
    /// Sends the notification procmail sends when it ends: the last folder and where the mail
    /// starts in it, or `**Bounced**`/`**Requeued**` when it was not delivered.
    func notifyComsat(exitCode: Int32) {
        guard let port = ProcmailComsat.port(vars["COMSAT"] ?? "") else { return }
        let folder: String
        var offset = lastTell
        if exitCode != 0 {
            folder = exitCode == SysExit.tempFail.rawValue ? "**Requeued**" : "**Bounced**"
            offset = -1
        } else {
            folder = comsatFolder ?? vars["LASTFOLDER"] ?? ""
        }
        let text = ProcmailComsat.payload(logName: vars["LOGNAME"] ?? "", offset: offset, folder: folder,
                                          maildir: exitCode == 0 ? vars["MAILDIR"] ?? "" : nil)
        ProcmailComsat.send(text, port: port)
        if isTrue(vars["VERBOSE"]) { log("procmail: Notified comsat: \"\(text)\"\n") }
    }
}
