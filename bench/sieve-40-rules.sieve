# A realistic user script of 40 rules: lists, spam, people, notifications, flags, vacation.
require ["fileinto", "envelope", "variables", "imap4flags", "body", "relational",
         "comparator-i;ascii-numeric", "subaddress", "copy", "regex", "mailbox", "date", "index"];

# 1-6: spam and junk
if header :contains "X-Spam-Flag" "YES" { fileinto "Junk"; stop; }
if header :value "ge" :comparator "i;ascii-numeric" "X-Spam-Score" "10" { fileinto "Junk"; stop; }
if header :matches "Subject" ["*viagra*", "*lottery*", "*WIN A PRIZE*", "*free money*"] { fileinto "Junk"; stop; }
if address :domain :is "from" ["spam.example", "bulk.example", "evil.example"] { discard; stop; }
if header :regex "Subject" "^\\[?(SPAM|ADV)\\]?" { fileinto "Junk"; stop; }
if allof (not exists "Message-ID", not exists "Date") { fileinto "Junk"; stop; }

# 7-16: mailing lists by List-Id
if header :matches "List-Id" "*<*.lists.example.org>*" { fileinto :create "Lists.${2}"; stop; }
if header :contains "List-Id" "debian-devel" { fileinto "Lists.debian-devel"; stop; }
if header :contains "List-Id" "postfix-users" { fileinto "Lists.postfix"; stop; }
if header :contains "List-Id" "dovecot" { fileinto "Lists.dovecot"; stop; }
if header :contains "List-Id" "swift-evolution" { fileinto "Lists.swift"; stop; }
if header :contains "List-Id" "ietf" { fileinto "Lists.ietf"; stop; }
if header :contains "List-Post" "announce" { fileinto "Lists.announce"; stop; }
if header :is "Precedence" ["list", "bulk"] { fileinto "Lists.other"; stop; }
if exists "List-Unsubscribe" { fileinto "Newsletters"; stop; }
if envelope :detail "to" "lists" { fileinto "Lists.sub"; stop; }

# 17-24: people and work
if address :is "from" ["boss@example.com", "ceo@example.com"] { addflag "\\Flagged"; fileinto "Work.Important"; }
if address :domain :is "from" "example.com" { fileinto "Work"; }
if address :localpart :is "from" ["mother", "father", "sister"] { fileinto "Family"; }
if header :contains ["To", "Cc"] "team@example.com" { fileinto :copy "Work.Team"; }
if header :contains "Subject" ["invoice", "receipt", "order confirmation"] { fileinto "Finance"; }
if body :text :contains ["unsubscribe", "opt out"] { addflag "newsletter"; }
if header :regex "Subject" "ticket #[0-9]+" { fileinto "Work.Tickets"; }
if envelope :detail "to" "shop" { fileinto "Shopping"; }

# 25-32: notifications from machines
if address :localpart :is "from" ["noreply", "no-reply", "notifications"] { addflag "$Notification"; }
if header :contains "From" "github.com" { fileinto "Notifications.GitHub"; stop; }
if header :contains "From" "gitlab" { fileinto "Notifications.GitLab"; stop; }
if header :contains "Subject" "Cron <" { fileinto "System.Cron"; stop; }
if header :contains "Subject" "Undelivered Mail" { fileinto "System.Bounces"; stop; }
if header :is "Auto-Submitted" "auto-generated" { fileinto "System"; stop; }
if address :localpart :is "from" "MAILER-DAEMON" { fileinto "System.Bounces"; stop; }
if size :over 5M { fileinto "Large"; }

# 33-40: flags, dates and the rest
if header :contains "X-Priority" ["1", "2"] { addflag "\\Flagged"; }
if header :count "ge" :comparator "i;ascii-numeric" "Received" "10" { addflag "many-hops"; }
if date :value "lt" :originalzone "date" "year" "2000" { addflag "old"; }
if header :index 1 :contains "Received" "localhost" { addflag "local"; }
if string :is "${1}" "" { set "tag" "none"; }
if header :matches "Subject" "Re: *" { addflag "reply"; }
if hasflag :contains "\\Flagged" { fileinto :copy "Flagged"; }
if not header :contains "To" ["me@example.org", "bob@example.org"] { addflag "bcc"; }
