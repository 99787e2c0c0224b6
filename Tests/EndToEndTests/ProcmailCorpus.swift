/// The rc files and messages the procmail differential test crosses. `@SB@` stands for the
/// case's sandbox directory; every rc keeps its folders under `@SB@/mail`.
enum ProcmailCorpus {
    static let messages: [(String, String)] = [
        ("plain", """
            From: Alice Example <alice@example.org>
            To: Bob <bob@example.net>
            Subject: lunch on friday
            Message-ID: <1@example.org>

            Shall we meet at noon?
            From the office, Alice

            """),
        ("fromline", """
            From alice@example.org  Mon Jan  1 00:00:00 2024
            From: alice@example.org
            To: carol@example.net, bob@example.net
            Cc: list@lists.example.com
            Subject: [list] Weekly report
            Precedence: bulk
            List-Id: <list.lists.example.com>

            Numbers went up.
            >From the archive
            From here on

            """),
        ("daemon", """
            From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
            To: bob@example.net
            Subject: Undelivered Mail Returned to Sender
            Auto-Submitted: auto-replied

            This is the mail system at host mx.example.net.
            I'm sorry to have to inform you that your message could not
            be delivered.

            """),
        ("folded", """
            From: "Spammy" <offers@shop.example.com>
            To: undisclosed-recipients:;
            Subject: You have won
             a free cruise VIAGRA
            X-Spam-Score: 7.5
            X-Spam-Flag: YES

            Click here http://shop.example.com/win to claim.
            Money money money.
            """),
        ("nobody", """
            From: dave@example.com
            To: bob@example.net
            Subject: no body and no trailing newline
            """),
    ]

    /// (name, rc text, extra arguments after the rc file)
    static let rcs: [(String, String, [String])] = [
        ("mbox-subject", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            :0:
            * ^Subject:.*(lunch|report)
            matched
            """, []),
        ("maildir-and-mh", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            :0c
            * ^From:.*alice
            alice/
            :0
            * ^To:.*bob
            bob/.
            """, []),
        ("macros", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            :0
            * ^FROM_DAEMON
            daemon
            :0
            * ^FROM_MAILER
            mailer
            :0
            * ^TO_bob@example\\.net
            tobob
            :0
            * ^TOcarol
            tocarol
            """, []),
        ("match-folder", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            :0
            * ^Subject: *\\[\\/[a-z]+
            lists/$MATCH
            :0
            * ^From:.*\\/[a-z]+@
            by-$MATCH
            """, []),
        ("body-and-negation", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            :0 B
            * money
            * !^click
            money
            :0 HB
            * noon
            noon
            :0 B
            * ! ^Numbers
            notnumbers
            """, []),
        ("weights", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            :0 B
            * 1^1 money
            * -2^0 ^Click
            scored
            :0
            * 500^0 ^X-Spam-Flag: YES
            * -1000^0 ^From:.*example\\.org
            spam
            :0
            * -1^0
            * 2^1 ^(To|Cc):
            recipients
            """, []),
        ("size", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            :0
            * < 200
            small
            :0
            * > 250
            large
            """, []),
        ("nesting", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            :0
            * ^To:.*bob
            {
              :0
              * ^Subject:.*report
              bob-reports
              :0
              * ^From:.*alice
              {
                :0:
                bob-alice
              }
              LOG="no inner match
            "
            }
            :0
            other
            """, []),
        ("chains", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            :0
            * ^Subject:.*lunch
            { FOUND=lunch }
            :0 A
            * ^From:.*alice
            alice-lunch
            :0 E
            * ^Subject:.*report
            report
            :0 E
            daemonish
            """, []),
        ("else-failed", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            :0 w
            * ^Subject:.*(lunch|report)
            | exit 3;
            :0 e
            failed
            :0 a
            succeeded
            """, []),
        ("filter-header", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            :0 fhw
            | sed -e 's/^Subject: /Subject: [filtered] /'
            :0 fbw
            * ^From:.*alice
            | tr a-z A-Z
            :0
            * ^Subject: \\[filtered\\]
            filtered
            """, []),
        ("filter-fail", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            :0 fw
            | sed -e 's/^/X/'; exit 1
            :0 f
            | sed -e '1s/^/X-Added: yes\\n/'
            :0
            * ^X-Added: yes
            added/
            """, []),
        ("capture-and-backquote", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            SUBJ=`sed -n 's/^Subject: //p' | head -1 | tr -dc 'a-z'`
            :0 h
            FROMLINE=| grep -i '^From:' | head -1
            :0
            * FROMLINE ?? alice
            subj-$SUBJ
            :0
            * SUBJ ?? ^you
            won-$SUBJ
            """, []),
        ("forward", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            SENDMAIL=@SB@/rec.sh
            :0 wc
            * ^To:.*bob
            ! bob@elsewhere.example carol@elsewhere.example
            :0
            * ^Subject:.*report
            ! -t
            """, []),
        ("pipes", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            :0 wc
            | @SB@/rec.sh pipe-all
            :0 hwc
            | @SB@/rec.sh pipe-header
            :0 bw
            * ^Subject:.*(lunch|won)
            | @SB@/rec.sh pipe-body
            """, []),
        ("exitcode-trap", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            TRAP="@SB@/rec.sh trap"
            :0
            * ^Subject:.*report
            { EXITCODE=67 }
            :0
            * ^Subject:.*lunch
            /dev/null
            """, []),
        ("bounce-no-default", """
            MAILDIR=@SB@/mail
            :0
            * ^Subject:.*lunch
            lunch
            """, []),
        ("includerc", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            INCLUDERC=@SB@/included.rc
            :0
            * ^Subject:.*report
            after-include
            """, []),
        ("switchrc", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            :0
            * ^Subject:.*(lunch|won)
            { SWITCHRC=@SB@/included.rc }
            :0
            not-switched
            """, []),
        ("args-and-vars", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/${BOX:-fallback}
            NAME=${UNSET:-dflt}-${MAILDIR:+set}-$1
            :0
            * $ ^Subject:.*$2
            $NAME
            """, ["x1", "report"]),
        ("case-and-anchors", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            :0 D
            * ^Subject:.*LUNCH
            upper
            :0
            * ^Subject:.*LUNCH
            caseless
            :0 B
            * ^^Numbers
            bodystart
            :0 B
            * money\\.$
            endofline
            """, []),
        ("raw-and-multi", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            :0 c
            * ^From:
            copies/ more/ third/.
            :0 r
            raw
            """, []),
        ("copy-block", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            :0 c
            {
              X=inblock
              :0
              * ^Subject:.*(lunch|won)
              clone-$X
            }
            :0
            after-$X
            """, []),
        ("host-and-delivered", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            :0
            * ^Subject:.*report
            { DELIVERED=yes }
            :0
            * ^Subject:.*won
            { HOST=no.such.host.example }
            :0
            notreached
            """, []),
        ("lockfile-and-log", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            LOGFILE=$MAILDIR/../procmail.log
            LOCKFILE=$MAILDIR/global.lock
            :0 :explicit.lock
            * ^From:.*(alice|dave)
            locked
            LOCKFILE
            """, []),
        ("folder-fails", """
            MAILDIR=@SB@/mail
            :0
            * ^Subject:.*lunch
            /proc/no-such-folder
            :0 c
            * ^Subject:.*(report|won)
            /proc/no-such-folder
            :0
            * ^Subject:.*(report|won)
            landed
            """, []),
        ("pipe-fails-then-folder", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            :0 W
            * ^To:
            | cat > /dev/null; exit 5
            :0
            * ^To:
            second-choice
            """, []),
        ("quoting", """
            MAILDIR=@SB@/mail
            DEFAULT="$MAILDIR/inbox"
            A='single $HOME'
            B="double ${A}"   # comment
            :0
            * B ?? single \\$HOME
            quoted
            """, []),
        ("dollar-regex-escape", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            DOM=example.org
            :0
            * $ ^From:.*@$\\DOM
            org
            :0
            * $ ^From:.*$DOM
            loose
            """, []),
        ("lastfolder", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            :0 c
            firstbox
            :0
            * ^Subject:.*(lunch|report)
            $LASTFOLDER-copy
            """, []),
        ("pseudo-variables", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            :0
            * H ?? ^Subject:.*lunch
            h-lunch
            :0
            * B ?? money
            b-money
            :0
            * HB ?? (report|undelivered)
            hb
            """, []),
        ("continued-condition", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            :0
            * ^Subject:.*\
              (lunch|report)
            continued
            """, []),
        ("score-variable", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            :0
            * 1^1 ^(From|To|Cc|Subject):
            * -1^0 ^Precedence:
            { S=$= }
            :0
            score-$S
            """, []),
        ("msg-directory", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            MADE=`mkdir -p @SB@/mail/plain && echo yes`
            :0 c
            plain
            :0
            * ^Subject:.*(lunch|report)
            plain-$MADE
            """, []),
        ("msg-directories-linked", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            MADE=`mkdir -p @SB@/mail/plain @SB@/mail/other`
            :0
            * ^From:.*(alice|dave)
            plain other mh/.
            :0 c
            * ^To:.*bob
            other
            """, []),
        ("msgprefix", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/plain
            MADE=`mkdir -p @SB@/mail/plain`
            MSGPREFIX=note_
            :0 b
            * ^Subject:.*won
            plain
            """, []),
        ("program-variables", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            WHO=`echo alice`
            :0 c
            * ? test "$WHO" = alice
            by-$WHO
            :0 c
            * ? test ${WHO} = bob
            not-bob
            :0
            * ? test '$WHO' = alice
            single-quoted
            """, []),
        ("lastfolder", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            M=`mkdir -p @SB@/mail/plain`
            :0 c
            mh/. plain
            :0 c
            | echo "[$LASTFOLDER]" | sed -e 's/msg\\.[^] ]*/msg.NAME/g' >> @SB@/mail/seen
            :0 c
            box
            :0 c
            | echo "[$LASTFOLDER]" >> @SB@/mail/seen
            :0
            md/
            """, []),
        ("shift-args", """
            MAILDIR=@SB@/mail
            DEFAULT=$MAILDIR/inbox
            FIRST=$1
            SHIFT=1
            :0
            $FIRST-$1-$#
            """, ["one", "two", "three"]),
    ]

    /// The MSGPREFIX values the rcs use: files so named in a plain directory are compared by
    /// content, their unique names aside.
    static let messageFilePrefixes = ["msg.", "note_"]

    /// The file INCLUDERC and SWITCHRC name.
    static let includedRC = """
        :0
        * ^Subject:.*lunch
        included-lunch
        :0
        * ^Subject:.*won
        included-won
        """
}
