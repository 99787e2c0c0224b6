import Pipeline

/// Validation of the commands and tests that extensions add (variables, imap4flags, vacation,
/// editheader, include, enotify, body, date, mailbox, duplicate).
extension SieveCompiler {
    func unknownCommand(_ n: SieveNode) -> SieveError {
        error(n.line, "unknown command '\(n.name)' (only reported once at first occurrence)")
    }

    mutating func extensionCommand(_ n: SieveNode, name: String) throws(SieveError) -> SieveCommand {
        switch name {
        case "set":
            guard extensions.contains("variables") else { throw unknownCommand(n) }
            var spec: [String: SieveArguments.TagValue] = [:]
            for m in ["lower", "upper", "lowerfirst", "upperfirst", "quotewildcard", "length"] { spec[m] = .flag }
            if extensions.contains("regex") { spec["quoteregex"] = .flag }
            if extensions.contains("enotify") { spec["encodeurl"] = .flag }
            let a = try SieveArguments(n, kind: "command", script: script, spec: spec)
            try a.expectPositional([("name", .string), ("value", .string)])
            let varName = a.positionalStrings(0)[0]
            guard SieveStrings.isVariableName(varName) else {
                throw error(n.line, "set command: invalid variable name '\(varName)'")
            }
            var mods: [SieveModifier] = []
            for t in a.tagOrder {
                switch t {
                case "lower": mods.append(.lower)
                case "upper": mods.append(.upper)
                case "lowerfirst": mods.append(.lowerfirst)
                case "upperfirst": mods.append(.upperfirst)
                case "quotewildcard": mods.append(.quotewildcard)
                case "quoteregex": mods.append(.quoteregex)
                case "encodeurl": mods.append(.encodeurl)
                default: mods.append(.length)
                }
            }
            for (i, m) in mods.enumerated() {
                for o in mods[(i + 1)...] where o.precedence == m.precedence {
                    throw error(n.line, "set command: modifiers :\(m) and :\(o) specified at the same time")
                }
            }
            mods.sort(by: >)
            return .set(name: varName.lowercased(), value: string(a.positionalStrings(1)[0]), modifiers: mods)
        case "setflag", "addflag", "removeflag":
            guard extensions.contains("imap4flags") else { throw unknownCommand(n) }
            let a = try SieveArguments(n, kind: "command", script: script, spec: [:])
            var variable: SieveString? = nil
            let flags: [String]
            if a.positional.count == 2 {
                try a.expectPositional([("variable name", .string), ("list of flags", .strings)])
                guard extensions.contains("variables") else { throw error(n.line, "the \(name) command requires the variables extension for a variable name") }
                variable = SieveString(literal: a.positionalStrings(0)[0].lowercased())
                flags = a.positionalStrings(1)
            } else {
                try a.expectPositional([("list of flags", .strings)])
                flags = a.positionalStrings(0)
            }
            let op: SieveFlagOperation = name == "setflag" ? .set : name == "addflag" ? .add : .remove
            return .flags(op, variable: variable, flags: strings(flags))
        case "vacation":
            guard extensions.contains("vacation") else { throw unknownCommand(n) }
            var spec: [String: SieveArguments.TagValue] = ["days": .number, "subject": .string, "from": .string,
                                                           "addresses": .strings, "mime": .flag, "handle": .string]
            if extensions.contains("vacation-seconds") { spec["seconds"] = .number }
            let a = try SieveArguments(n, kind: "command", script: script, spec: spec)
            try a.expectPositional([("reason", .string)])
            if a.has("days"), a.has("seconds") { throw error(n.line, "the vacation command accepts either :days or :seconds, not both") }
            let seconds = a.number("days").map { $0 * 86_400 } ?? a.number("seconds")
            if let from = a.string("from"), !from.contains("${"), AddressList.parse(from).mailboxes.count != 1 {
                throw error(n.line, "specified :from address '\(from)' is invalid for vacation action")
            }
            return .vacation(SieveVacationSpec(
                seconds: seconds, subject: a.string("subject").map(string), from: a.string("from").map(string),
                addresses: strings(a.strings("addresses") ?? []), mime: a.has("mime"),
                handle: a.string("handle").map(string), reason: string(a.positionalStrings(0)[0])), line: n.line)
        case "addheader":
            guard extensions.contains("editheader") else { throw unknownCommand(n) }
            let a = try SieveArguments(n, kind: "command", script: script, spec: ["last": .flag])
            try a.expectPositional([("field name", .string), ("value", .string)])
            let field = a.positionalStrings(0)[0]
            if !field.contains("${"), !SieveStrings.isHeaderName(field) {
                throw error(n.line, "addheader command: specified field name `\(field)' is invalid")
            }
            return .addheader(name: string(field), value: string(a.positionalStrings(1)[0]), last: a.has("last"), line: n.line)
        case "deleteheader":
            guard extensions.contains("editheader") else { throw unknownCommand(n) }
            var spec = matchSpec()
            spec["index"] = .number
            spec["last"] = .flag
            let a = try SieveArguments(n, kind: "command", script: script, spec: spec)
            guard a.positional.count == 1 || a.positional.count == 2 else {
                throw error(n.line, "the deleteheader command requires a field name and optionally a list of value patterns")
            }
            if a.positional.count == 1 { try a.expectPositional([("field name", .string)]) }
            else { try a.expectPositional([("field name", .string), ("value patterns", .strings)]) }
            let field = a.positionalStrings(0)[0]
            if !field.contains("${"), !SieveStrings.isHeaderName(field) {
                throw error(n.line, "deleteheader command: specified field name `\(field)' is invalid")
            }
            let m: SieveMatcher? = a.positional.count == 2 ? try matcher(a, keys: a.positionalStrings(1)) : nil
            return .deleteheader(name: string(field), m, index: try index(a), line: n.line)
        case "include":
            guard extensions.contains("include") else { throw unknownCommand(n) }
            let a = try SieveArguments(n, kind: "command", script: script,
                                       spec: ["personal": .flag, "global": .flag, "once": .flag, "optional": .flag])
            try a.expectPositional([("script name", .string)])
            if a.has("personal"), a.has("global") { throw error(n.line, "include command: :personal and :global cannot be used together") }
            let target = a.positionalStrings(0)[0]
            guard !target.isEmpty, !target.contains("/"), !target.hasPrefix("."),
                  !target.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
                throw error(n.line, "include: invalid script name '\(target)'")
            }
            let location: SieveIncludeLocation = a.has("global") ? .global : .personal
            let key = "\(location.rawValue):\(target)"
            includes.append((key, location, target, a.has("optional"), n.line))
            return .include(key: key, once: a.has("once"), optional: a.has("optional"), line: n.line)
        case "return":
            guard extensions.contains("include") else { throw unknownCommand(n) }
            try SieveArguments(n, kind: "command", script: script, spec: [:]).expectPositional([])
            return .return
        case "global":
            guard extensions.contains("include"), extensions.contains("variables") else { throw unknownCommand(n) }
            let a = try SieveArguments(n, kind: "command", script: script, spec: [:])
            try a.expectPositional([("variable names", .strings)])
            for v in a.positionalStrings(0) where !SieveStrings.isVariableName(v) {
                throw error(n.line, "global command: invalid variable name '\(v)'")
            }
            return .global(a.positionalStrings(0).map { $0.lowercased() })
        case "notify":
            guard extensions.contains("enotify") else { throw unknownCommand(n) }
            let a = try SieveArguments(n, kind: "command", script: script,
                                       spec: ["from": .string, "importance": .string, "options": .strings, "message": .string])
            try a.expectPositional([("method", .string)])
            let method = a.positionalStrings(0)[0]
            if !method.contains("${"), SieveNotify.mailtoRecipients(method) == nil {
                throw error(n.line, "notify command: invalid method '\(method)'")
            }
            for option in a.strings("options") ?? [] where !option.contains("${") {
                let name = option.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
                guard option.contains("="), let f = name.unicodeScalars.first, f.properties.isAlphabetic || ("0"..."9").contains(f),
                      name.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "." || $0 == "_" }) else {
                    throw error(n.line, "notify command: invalid option name specified in option '\(option)'")
                }
            }
            if let imp = a.string("importance"), !imp.contains("${"), !["1", "2", "3"].contains(imp) {
                throw error(n.line, "notify command: invalid :importance argument '\(imp)'")
            }
            return .notify(SieveNotifySpec(method: string(method), from: a.string("from").map(string),
                                           importance: a.string("importance").map(string),
                                           options: strings(a.strings("options") ?? []),
                                           message: a.string("message").map(string)), line: n.line)
        default:
            throw unknownCommand(n)
        }
    }

    func unknownTest(_ n: SieveNode) -> SieveError {
        error(n.line, "unknown test '\(n.name)' (only reported once at first occurrence)")
    }

    mutating func extensionTest(_ n: SieveNode, name: String) throws(SieveError) -> SieveTest {
        switch name {
        case "body":
            guard extensions.contains("body") else { throw unknownTest(n) }
            let a = try SieveArguments(n, kind: "test", script: script, spec: matchSpec(["raw": .flag, "content": .strings, "text": .flag]))
            try a.expectPositional([("key list", .strings)])
            let transforms = ["raw", "content", "text"].filter(a.has)
            if transforms.count > 1 { throw error(n.line, "the body test accepts only one body transform") }
            let t: SieveBodyTransform = a.has("raw") ? .raw : a.strings("content").map { .content(strings($0)) } ?? .text
            return .body(t, try matcher(a, keys: a.positionalStrings(0)))
        case "string":
            guard extensions.contains("variables") else { throw unknownTest(n) }
            let a = try SieveArguments(n, kind: "test", script: script, spec: matchSpec())
            try a.expectPositional([("source", .strings), ("key list", .strings)])
            return .string(sources: strings(a.positionalStrings(0)), try matcher(a, keys: a.positionalStrings(1)))
        case "hasflag":
            guard extensions.contains("imap4flags") else { throw unknownTest(n) }
            let a = try SieveArguments(n, kind: "test", script: script, spec: matchSpec())
            if a.positional.count == 2 {
                try a.expectPositional([("variable list", .strings), ("key list", .strings)])
                return .hasflag(variables: a.positionalStrings(0).map { SieveString(literal: $0.lowercased()) },
                                try matcher(a, keys: a.positionalStrings(1)))
            }
            try a.expectPositional([("key list", .strings)])
            return .hasflag(variables: [], try matcher(a, keys: a.positionalStrings(0)))
        case "date", "currentdate":
            guard extensions.contains("date") else { throw unknownTest(n) }
            var spec = matchSpec(["zone": .string])
            if name == "date" { spec["originalzone"] = .flag; indexSpec(&spec) }
            let a = try SieveArguments(n, kind: "test", script: script, spec: spec)
            if a.has("zone"), a.has("originalzone") { throw error(n.line, "the date test accepts either :zone or :originalzone") }
            if let z = a.string("zone"), !z.contains("${"), SieveDates.zoneOffset(z) == nil {
                throw error(n.line, "\(name) test: invalid :zone argument '\(z)'")
            }
            let zone: SieveZone = a.has("originalzone") ? .original : a.string("zone").map { .fixed(string($0)) } ?? .local
            let partIndex = name == "date" ? 1 : 0
            if name == "date" { try a.expectPositional([("header name", .string), ("date part", .string), ("key list", .strings)]) }
            else { try a.expectPositional([("date part", .string), ("key list", .strings)]) }
            let part = a.positionalStrings(partIndex)[0]
            if !part.contains("${"), !SieveDates.parts.contains(part.lowercased()) {
                throw error(n.line, "\(name) test: the date part '\(part)' is not supported")
            }
            let m = try matcher(a, keys: a.positionalStrings(partIndex + 1))
            if name == "date" {
                return .date(header: string(a.positionalStrings(0)[0]), zone: zone, part: string(part), m, index: try index(a))
            }
            return .currentdate(zone: zone, part: string(part), m)
        case "mailboxexists":
            guard extensions.contains("mailbox") else { throw unknownTest(n) }
            let a = try SieveArguments(n, kind: "test", script: script, spec: [:])
            try a.expectPositional([("mailbox names", .strings)])
            return .mailboxexists(strings(a.positionalStrings(0)))
        case "duplicate":
            guard extensions.contains("duplicate") else { throw unknownTest(n) }
            let a = try SieveArguments(n, kind: "test", script: script,
                                       spec: ["handle": .string, "header": .string, "uniqueid": .string, "seconds": .number, "last": .flag])
            try a.expectPositional([])
            if a.has("header"), a.has("uniqueid") { throw error(n.line, "the duplicate test accepts either :header or :uniqueid") }
            return .duplicate(SieveDuplicateSpec(handle: a.string("handle").map(string), header: a.string("header").map(string),
                                                 uniqueID: a.string("uniqueid").map(string), seconds: a.number("seconds"), last: a.has("last")))
        case "valid_notify_method":
            guard extensions.contains("enotify") else { throw unknownTest(n) }
            let a = try SieveArguments(n, kind: "test", script: script, spec: [:])
            try a.expectPositional([("notification uris", .strings)])
            return .validNotifyMethod(strings(a.positionalStrings(0)))
        case "notify_method_capability":
            guard extensions.contains("enotify") else { throw unknownTest(n) }
            let a = try SieveArguments(n, kind: "test", script: script, spec: matchSpec())
            try a.expectPositional([("notification uri", .string), ("capability", .string), ("key list", .strings)])
            return .notifyMethodCapability(uri: string(a.positionalStrings(0)[0]), capability: string(a.positionalStrings(1)[0]),
                                           try matcher(a, keys: a.positionalStrings(2)))
        default:
            throw unknownTest(n)
        }
    }
}
