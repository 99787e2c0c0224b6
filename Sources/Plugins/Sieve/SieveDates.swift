#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// The date and currentdate tests (RFC 5260): RFC 5322 dates parsed, date parts extracted in
/// a chosen zone.
enum SieveDates {
    static let parts: Set<String> = ["year", "month", "day", "date", "julian", "hour", "minute", "second",
                                     "time", "iso8601", "std11", "zone", "weekday"]

    /// A moment with the zone offset (in minutes) it is shown in.
    struct Moment {
        var epoch: Int
        var offset: Int
    }

    /// `+hhmm` / `-hhmm` in minutes.
    static func zoneOffset(_ z: String) -> Int? {
        let b = Array(z.utf8)
        guard b.count == 5, b[0] == UInt8(ascii: "+") || b[0] == UInt8(ascii: "-"),
              b[1...].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        let h = Int(b[1] - 0x30) * 10 + Int(b[2] - 0x30), m = Int(b[3] - 0x30) * 10 + Int(b[4] - 0x30)
        guard h < 24, m < 60 else { return nil }
        return (b[0] == UInt8(ascii: "-") ? -1 : 1) * (h * 60 + m)
    }

    static func localOffset(at epoch: Int) -> Int {
        var t = time_t(epoch)
        var tm = tm()
        localtime_r(&t, &tm)
        return tm.tm_gmtoff / 60
    }

    static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let obsoleteZones: [String: Int] = ["ut": 0, "gmt": 0, "z": 0, "est": -300, "edt": -240, "cst": -360,
                                                "cdt": -300, "mst": -420, "mdt": -360, "pst": -480, "pdt": -420]

    /// Parses an RFC 5322 date-time (`[Day,] DD Mon YYYY HH:MM[:SS] zone`), lenient about
    /// comments and spacing; nil when it cannot be read.
    static func parse(_ text: String) -> Moment? {
        var s = text
        while let open = s.firstIndex(of: "("), let close = s[open...].firstIndex(of: ")") { s.removeSubrange(open...close) }
        var words = s.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }).map(String.init)
        if let f = words.first, f.hasSuffix(",") || f.count == 3 && Int(f) == nil { words.removeFirst() }
        if let f = words.first, f.hasSuffix(",") { words.removeFirst() }
        guard words.count >= 4, let day = Int(words[0]), let mi = months.firstIndex(of: String(words[1].lowercased().prefix(3))),
              var year = Int(words[2]), year >= 0, year <= 9999 else { return nil }
        if words[2].count == 2 { year += year < 50 ? 2000 : 1900 } else if words[2].count == 3 { year += 1900 }
        let hms = words[3].split(separator: ":").compactMap { Int($0) }
        guard hms.count >= 2, hms.count <= 3, day >= 1, day <= 31, hms[0] < 24, hms[1] < 60 else { return nil }
        var offset = 0
        if words.count >= 5 {
            if let z = zoneOffset(words[4]) { offset = z } else { offset = obsoleteZones[words[4].lowercased()] ?? 0 }
        }
        let days = daysFromCivil(year, mi + 1, day)
        let epoch = days * 86_400 + hms[0] * 3600 + hms[1] * 60 + (hms.count == 3 ? min(hms[2], 60) : 0) - offset * 60
        return Moment(epoch: epoch, offset: offset)
    }

    static func daysFromCivil(_ y: Int, _ m: Int, _ d: Int) -> Int { CivilCalendar.daysFromCivil(y, m, d) }

    static func civil(_ days: Int) -> (y: Int, m: Int, d: Int) { CivilCalendar.civil(days) }

    static func pad(_ n: Int, _ w: Int) -> String {
        let s = String(n)
        return String(repeating: "0", count: max(0, w - s.count)) + s
    }

    /// One date part of a moment, as RFC 5260 section 4.2 writes it.
    static func part(_ name: String, of m: Moment) -> String? {
        let local = m.epoch + m.offset * 60
        let days = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        let secs = local - days * 86_400
        let (y, mo, d) = civil(days)
        let hh = secs / 3600, mm = (secs % 3600) / 60, ss = secs % 60
        let sign = m.offset < 0 ? "-" : "+"
        let zone = sign + pad(abs(m.offset) / 60, 2) + pad(abs(m.offset) % 60, 2)
        switch name.lowercased() {
        case "year": return pad(y, 4)
        case "month": return pad(mo, 2)
        case "day": return pad(d, 2)
        case "date": return "\(pad(y, 4))-\(pad(mo, 2))-\(pad(d, 2))"
        case "julian": return String(days + 40_587)
        case "hour": return pad(hh, 2)
        case "minute": return pad(mm, 2)
        case "second": return pad(ss, 2)
        case "time": return "\(pad(hh, 2)):\(pad(mm, 2)):\(pad(ss, 2))"
        case "iso8601":
            return "\(pad(y, 4))-\(pad(mo, 2))-\(pad(d, 2))T\(pad(hh, 2)):\(pad(mm, 2)):\(pad(ss, 2))\(sign)\(pad(abs(m.offset) / 60, 2)):\(pad(abs(m.offset) % 60, 2))"
        case "std11":
            let wd = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][((days % 7) + 11) % 7]
            let mon = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][mo - 1]
            return "\(wd), \(d) \(mon) \(pad(y, 4)) \(pad(hh, 2)):\(pad(mm, 2)):\(pad(ss, 2)) \(zone)"
        case "zone": return zone
        case "weekday": return String(((days % 7) + 11) % 7)
        default: return nil
        }
    }
}
