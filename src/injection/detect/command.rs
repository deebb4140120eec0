//! OS command injection: shell metacharacters followed by a command, command
//! substitution (`$(...)`, backticks), shell tricks (`${IFS}`, brace expansion), known
//! binaries by path, Windows `cmd`/PowerShell forms and shellshock. Rules read the
//! command-line view, where the characters a shell ignores inside words (`\ " ' ^`) are
//! gone, so `c'a't` reads as `cat`.

use crate::event::Category;

use super::{Part, Rule, View, CRITICAL, WARNING};

const fn rule(name: &'static str, paranoia: u8, score: u16, pattern: &'static str) -> Rule {
    Rule {
        name,
        category: Category::CommandInjection,
        paranoia,
        score,
        view: View::Cmd,
        parts: &[
            Part::Value,
            Part::Name,
            Part::Path,
            Part::Header,
            Part::FileName,
        ],
        pattern,
    }
}

/// Unix commands an injection runs first.
macro_rules! unix_cmds {
    () => {
        r"(?:cat|tac|nl|ls|dir|id|whoami|uname|wget|curl|nc|ncat|netcat|bash|sh|zsh|ksh|csh|tcsh|dash|python[23]?|perl|ruby|php\d?|lua|node|nmap|ping|echo|printf|rm|chmod|chown|chgrp|kill|killall|pkill|ps|ifconfig|ip\s+a|nslookup|dig|host|telnet|ssh|scp|ftp|tftp|sleep|env|printenv|set|export|find|locate|grep|egrep|awk|gawk|sed|head|tail|more|less|xargs|sudo|su|mkfifo|passwd|touch|cp|mv|tar|zip|unzip|gzip|base64|exec|eval|hostname|netstat|ss|socat|crontab|useradd|usermod|chattr|dd|od|xxd|hexdump|strings|openssl|java|gcc|cc|make|apt|apt-get|yum|apk|dnf|docker|kubectl|systemctl|service|mount|sysctl|last|who|history|file|stat|df|du|free|top|lsof|ldd|time|timeout|nohup|which|whereis|tee|shutdown|reboot|halt|init|sort|uniq|cut|tr|rev|diff|cmp|vi|vim|nano|ed|expr|test|true|false|wall|write|mail|sendmail|rsync|svn|git|ruby|irb|jrunscript|busybox|nice|ionice|chroot|getent|groups|uptime|arp|route|traceroute|tracepath|iptables|lsmod|modprobe|insmod|fdisk|at|atq|batch|alias|source|readlink|realpath|basename|dirname|mkdir|rmdir|ln|install|shred|wc|seq|yes|bc|dc|jq|less|pg|fold|fmt|column|paste|join|split|csplit|tee|logger|script|screen|tmux|xterm|gdb|strace|ltrace|php-cgi|pwd|flock|perf|rmt|bridge|comm|base32|basenc|c89|c99|ansible\S*|bpftrace|busctl|byebug|capsh|certbot|check_\w+|choom|chrt|cobc|column|cowsay|cpan|cpio|cpulimit|crash|csvtool|ctr|dmesg|dmsetup|dnf|dosbox|dpkg|dstat|easy_install|emacs|enscript|eqn|espeak|ex|exiftool|expand|facter|finger|fish|flatpak|fping|gem|genisoimage|ghc|ghci|gimp|ginsh|gtester|hd|iconv|ionice|irb|ispell|jjs|joe|journalctl|jrunscript|jtag|julia|knife|ksshell|kubectl|latex|ld\.so|lftp|links|logsave|look|lp|ltrace|lualatex|lwp-\w+|lynx|mawk|minicom|mosquitto|msgattrib|msgcat|msgconv|msgfilter|msgmerge|msguniq|mtr|multitime|mysql|nano|nasm|nawk|neofetch|nft|nmap|npm|nroff|nsenter|octave|opkg|pandoc|pdb|pdflatex|pdftex|pic|pico|pidstat|pip\d?|pkexec|pkg|posh|pr|pry|psftp|psql|ptx|puppet|pwsh|rake|rc|readelf|red|redcarpet|restic|rlogin|rlwrap|rpm|rpmdb|rpmquery|rpmverify|rsh|rtorrent|run-mailcap|run-parts|rview|rvim|sash|scanmem|scrot|setarch|setfacl|setlock|sftp|sg|shuf|slsh|smbclient|snap|softlimit|sqlite3|sqlmap|ssh-agent|ssh-keygen|ssh-keyscan|sshpass|start-stop-daemon|stdbuf|stunnel|sysctl|systemd-resolve|tasksh|tbl|tclsh|tdbtool|tftp|tic|tmate|troff|unexpand|unshare|unsquashfs|update-alternatives|uuencode|uudecode|valgrind|varnishncsa|view|vigr|vimdiff|vipw|virsh|volatility|watch|wget2|whiptail|whois|wireshark|wish|xdotool|xelatex|xetex|xmodmap|xmore|xpad|xxd|xz|yarn|yash|yelp|zathura|zip|zsoelim|zypper)"
    };
}

/// Windows commands an injection runs first.
macro_rules! win_cmds {
    () => {
        r"(?:cmd(?:\.exe)?|powershell(?:\.exe)?|pwsh|regedit|bcdboot|bcdedit|diskpart|format|shutdown|takeown|cacls|runas|vssadmin|wbadmin|mountvol|net(?:\.exe)?\s+(?:user|localgroup|view|use|share|session|start|stop)|ipconfig|systeminfo|tasklist|taskkill|certutil|bitsadmin|reg(?:\.exe)?\s+(?:query|add|delete|save)|wmic|rundll32|mshta|cscript|wscript|regsvr32|schtasks|sc\s+(?:query|create|start|config)|netsh|nltest|dsquery|vssadmin|wevtutil|icacls|attrib|xcopy|robocopy|findstr|query\s+user|qwinsta|forfiles|msiexec|msbuild|installutil|regasm|regsvcs|odbcconf|cmstp|whoami\.exe|hostname\.exe|ping\.exe|nslookup\.exe)"
    };
}

pub(crate) static RULES: &[Rule] = &[
    rule(
        "command.separator_then_command",
        1,
        CRITICAL,
        // A command in command position: after a separator (`;`, `|`, `&`, `&&`, `||`, a
        // newline, a backtick, `$(`, `<(`), optionally through a bin/ path. Grammar, not
        // punctuation: a command whose name is an English word or at most three letters
        // (`find`, `sort`, `ls`, `id`) needs an argument after it (an option, a path, a
        // number, a file name, a redirection); an unambiguous name (`wget`, `whoami`) may
        // stand alone. The bare information probes (`;id`, `|ls`) count at the end of a
        // value that is otherwise a plain word (`1;id`, `x|ls`), not inside a password.
        concat!(
            // A backtick opens a substitution that must close (an unclosed one is a
            // syntax error): it is read by the substitution alternatives below.
            r"(?:[;|\n\r]|&&?|\$\(|\|\||<\(|>\()\s*(?:\{|\(|!)?\s*(?:\$\w*\s+)?(?:/(?:usr/)?(?:local/)?s?bin/)?(?:",
            name_commands!(),
            r"(?:\s|$|[;|&<>`)]|\$\{?ifs)|",
            word_commands!(),
            r"(?:\s+(?:-{1,2}[a-z0-9]|[/~.$*\\<>|]|\d|[\w.-]*[./=:@][\w.-]|(?:passwd|shadow|etc|hosts|group|sudoers|id_rsa|authorized_keys|flag)\b)|\s*<<<|\$\{?ifs))",
            // Inside a command or process substitution the shell reads a command
            // whatever its name: `$(id)`, `<(cat file)`, `(sh)`.
            // The substitution must close: an unclosed `$(` or backtick is a syntax error.
            r"|(?:\$\(|<\(|>\(|(?:[;|`\n]|&&?)\s*\()\s*(?:/(?:usr/)?(?:local/)?s?bin/)?",
            word_commands!(),
            r"(?:[\s$][^)]*)?\)|`\s*(?:/(?:usr/)?(?:local/)?s?bin/)?(?:",
            name_commands!(),
            "|",
            word_commands!(),
            r")[\s$<][^`]*`",
            // A bare name in backticks is a command whose output becomes a word: the
            // backticks stand where a word starts and ends (`` `id` ``, `` x=`id`; ``),
            // not glued into a run of random characters (`` I`Ps`) ``).
            r"|(?:^|[\s;|&(=])`\s*(?:/(?:usr/)?(?:local/)?s?bin/)?(?:",
            name_commands!(),
            "|",
            word_commands!(),
            r")\s*`(?:$|[\s;|&)<>])",
            // A pipe into a shell: `... | sh`.
            r"|\|\s*(?:ba|z|k|da)?sh(?:\s|$|`)",
            r"|^[\w.@ -]*(?:[;|\n]|&&?)\s*(?:id|ls|ps|pwd|who|whoami|env|set|dir|uname|ifconfig|hostname)\s*(?:$|[;|&])"
        ),
    ),
    rule(
        "command.separator_then_windows_command",
        1,
        CRITICAL,
        concat!(
            r"(?:[;|`\n\r]|&&?|\|\|)\s*(?:",
            win_cmds!(),
            r"(?:\s+[^\s;|&]|[;|&<>/]|$)",
            // The built-ins named by English words or two letters (`type`, `copy`, `md`,
            // `rd`) do nothing without an argument, and cmd reads one after a space
            // (`&rd>x` in a random password is no command line).
            r"|(?:type|copy|del|erase|move|ren|rd|md)\s+[^\s;|&<>])"
        ),
    ),
    rule(
        "command.substitution",
        1,
        CRITICAL,
        concat!(
            // A substitution the shell runs is closed (`$(id)`, `` `id` ``), and the
            // command name is followed by an argument or the end of the substitution.
            r"(?:\$\(\s*(?:/(?:usr/)?s?bin/)?",
            unix_cmds!(),
            r"(?:[\s$][^)]*)?(?:\)|$)|`\s*(?:/(?:usr/)?s?bin/)?",
            unix_cmds!(),
            // A bare name in backticks only where a word starts and ends (see above).
            r"[\s$<][^`]*`|(?:^|[\s;|&(=])`\s*(?:/(?:usr/)?s?bin/)?",
            unix_cmds!(),
            r"\s*`(?:$|[\s;|&)<>])|\$\(\([^)]*\)\)|\$\{[^}]*(?:ifs|path|home|shell|pwd)[^}]*\}|\$ifs\b)"
        ),
    ),
    rule(
        "command.shell_path",
        1,
        CRITICAL,
        // `rm -rf` in command position (the value's start, after a separator, `sudo`); in
        // the middle of a sentence ("I ran rm -rf on the folder") it is text about it.
        r"(?:/bin/(?:ba|z|k|c|tc|da)?sh\b|/usr/bin/(?:env|perl|python\d?|ruby|php|curl|wget|nc|id|whoami)\b|/bin/(?:cat|ls|echo|nc|busybox|rm|id|uname|ping|sleep)\b|/dev/(?:tcp|udp)/|\bnc(?:at)?\s+-[a-z]*e\s|\b(?:bash|sh)\s+-[ic]\b|\bmkfifo\b|\btelnet\s+\S+\s+\d+\s*\||\bcurl\s+(?:-[a-z]+\s+)*(?:https?://|\S+\|)|\bwget\s+(?:-[a-z]+\s+)*(?:https?|ftp)://|\bpython\d?\s+-c\b|\bperl\s+-e\b|\bruby\s+-e\b|\bphp\s+-r\b|\blua\s+-e\b|\bnode\s+-e\b|\b(?:cat|head|tail|more|less|nl|tac|strings)\s+/(?:etc|proc|var|root|home)/|\bchmod\s+[+0-7]|(?:^|[;|&`\n(])\s*(?:sudo\s+)?rm\s+-[rf]+\s|\bsleep\s+\d+\s*[;|&]|\bping\s+-[nc]\s+\d+|\bxterm\s+-display|\bbase64\s+-d\b)",
    ),
    rule(
        "command.brace_expansion",
        1,
        CRITICAL,
        r"\{\s*(?:/(?:usr/)?s?bin/)?(?:cat|ls|id|wget|curl|nc|bash|sh|echo|rm|ping|uname|whoami|sleep|cp|mv|chmod)\s*,",
    ),
    rule(
        "command.windows",
        1,
        CRITICAL,
        // `%comspec%` is the command interpreter's path: it runs wherever cmd expands it.
        // The folder variables (`%appdata%`, `%windir%`, ...) start a path, which prose
        // about Windows names too ("logs go to %APPDATA%\App"); they are a command only
        // where cmd reads one (the value's start, after `&`, `|`, `(` or a line break).
        r"(?:\bcmd(?:\.exe)?\s*/[ckr]\b|\bpowershell(?:\.exe)?\s+(?:-[a-z]+\s+)*(?:-(?:enc|encodedcommand|e|c|command|nop|noprofile|w|windowstyle|exec|executionpolicy)\b|\S+)|\b(?:invoke-(?:expression|webrequest|command|item|restmethod|mimikatz|shellcode)|iex\s*\(|new-object\s+(?:system\.)?net\.webclient|downloadstring|downloadfile|start-process|get-(?:content|childitem|process|service|wmiobject|itemproperty)|set-(?:content|itemproperty|executionpolicy)|out-file|remove-item|frombase64string)\b|\[system\.(?:convert|text\.encoding|net)\]|%comspec%|(?:^|[&|(\n\r])\s*%(?:systemroot|windir|programfiles|userprofile|temp|appdata)%|\\\\[\w.]+\\(?:c\$|admin\$|ipc\$))",
    ),
    rule(
        "command.shellshock",
        1,
        CRITICAL,
        r"\(\s*\)\s*\{\s*(?::|[a-z_]+\s*;)?\s*;?\s*\}\s*;",
    ),
    rule(
        "command.redirection",
        2,
        WARNING,
        r"(?:[;|&]\s*[a-z]{2,}\s+[^\s]*\s*[<>]{1,2}\s*/|\|\s*(?:ba)?sh\b|>\s*/dev/null|2>&1|\$\{[a-z_]+\}|\$[a-z_]+\s*[;|&]|;\s*[a-z]+\s+-[a-z]+\b)",
    ),
    rule(
        "command.bare_command",
        2,
        WARNING,
        concat!(r"^\s*(?:/(?:usr/)?s?bin/)?", unix_cmds!(), r"\s+[-/$.~]\S*"),
    ),
    rule(
        "command.windows_for_loop",
        1,
        CRITICAL,
        r"\bfor\b(?:\s+/[a-z])*[^%]{0,80}%%?[^\s]{0,40}\s+in\s*\([^)]{0,300}\)\s*do\b|\bif\s+(?:/i\s+)?(?:not\s+)?(?:exist|defined|errorlevel|cmdextversion)\b|\bif\s+(?:/i\s+)?(?:not\s+)?\(?\s*\S{1,40}\s+(?:equ|neq|lss|leq|gtr|geq)\s+\S|\bif\s+(?:/i\s+)?(?:not\s+)?[^=\s]{0,60}\s*={2,3}\s*\S",
    ),
    rule(
        "command.glob_path",
        1,
        CRITICAL,
        // Globs and expansions that only a shell reads: a bracket glob in a path of two
        // segments or more (`/etc/pas[s]wd`, `/[e]tc/`) or with a name after the bracket,
        // `?` in a system path, process substitution of a word (`<(cat x)`, `>(cmd)`), `${var}` / `$[n]` / `${v#p}`
        // closed as the shell requires (an unclosed `${` or `$[` is a syntax error).
        // Process substitution starts a word (`cat <(ls)`, `>(cmd)=x`), as backticks do
        // above: glued into random characters (`~>'(vs)`, `e<(kdyk)` in passwords) it is not.
        r"/[\w.?*-]+/[\w?*]*\[[!^]?[\w?*/ -]{1,10}\][\w?*]*(?:/|$|\s)|/[\w?*]*\[[!^]?[\w?*/ -]{1,10}\][\w?*]*/|/\[[!^]?[\w?*/ -]{1,10}\][\w?*]+|/(?:etc|bin|usr|proc)/[\w]*\?|/\?\?\?/|(?:^|[\s;|&(=])[<>]\(\s*(?:/(?:usr/)?s?bin/)?[a-z]\w+(?:[\s$][^)]*)?\)|\$\{\s*[a-z_]\w*\s*\}|\$\[\s*[\d\s+*/-]+\]|\$\{[a-z_]\w*[#%][^}]*\}",
    ),
    rule(
        "command.shell_function_and_alias",
        1,
        CRITICAL,
        // A function definition, an alias, a bin/ path, brace expansion that builds a
        // command line (`{ls,-la}`, `{cat,/etc/passwd}`: with a path or an option in it, or
        // the whole value a word with a brace in it, `{,ifconfig,eth0}`), tilde expansion (`~+`, `~-`).
        r"\(\s*\)\s*\{|\balias\s+(?:[-+]\w+\s+)*[^\s=]+\s*=|(?:^|/)s?bin/[a-z]{2,}|\{[\w./-]{0,20},[\w,./ -]{0,40}[/-][\w,./ -]{0,40}\}|^\s*[\w./-]*\{[\w./-]{0,20},[\w,./ -]{0,40}\}[\w./-]*\s*$|(?:^|\s)~[+-]\d*(?:\s|$|/)",
    ),
    rule(
        "command.option_after_separator",
        1,
        CRITICAL,
        r"[;|`\n]\s*[a-z][\w.+-]{1,30}\s+--?[a-z][\w-]*(?:\s|$|=)|[;|`\n]\s*(?:cd|ls|dir|cat|rm|cp|mv)\s+[/.~]|\b(?:sh|bash|zsh|ksh|dash|cat|ls|id|whoami|nc|wget|curl|uname|ping)\$(?:\{\w*\}|ifs\b|[@*\d]|[a-z_]\w*\s+[\w/.~$-])|\bnohup\s+\w|[;\n]\s*\.(?:shell|system|sh)\s+\w|\btime\s*;\s*\w|\bansible(?:-\w+)?\s+\w",
    ),
    rule(
        "command.leading_command",
        1,
        CRITICAL,
        // A command name in command position: the whole value starts with it, and it is
        // followed by an argument, a separator or the end, never by `/` (a user agent's
        // `Wget/1.21`) or `-` and a digit (a product code). AppArmor's utilities are
        // named (Debian `apparmor`, `apparmor-utils`), not `aa-` and anything.
        r"^\s*[;|&]?\s*(?:(?:visudo|cscli|chef-(?:client|solo|shell|apply)|ansible(?:-(?:playbook|galaxy|vault|console|doc|inventory|pull|config))?|ifconfig|ipconfig|whoami|uname|wget|netcat|nmap|chmod|chown|useradd|usermod|iptables|systemctl|journalctl|powershell|certutil|bitsadmin|wmic|regedit|rmt(?:-tar)?|aptitude|apt-get|bcdboot|aa-(?:exec|status|enforce|complain|disable|audit|autodep|cleanprof|genprof|logprof|mergeprof|notify|remove-unknown|teardown|unconfined|easyprof|decode|features-abi))(?:\s|$|[;|&<>`])|perf\s+-|curl\s+\S|nc(?:at)?\s+-|sudo\s|passwd\s|crontab\s|kubectl\s|docker\s|bash\s|sh\s+-|zsh\s|ksh\s+-|python[23]?\s+-|perl\s+-|ruby\s+-|php\s+-|cmd(?:\.exe)?\s*/|ls(?:\s+[-/.~\w]|\s*$)|cat\s+[/.~]|apt\s+(?:install|remove|update)|yum\s|dnf\s|rpm\s+-|dpkg\s+-|c(?:89|99)\s+-|gcc\s+-|tftp\s|telnet\s)",
    ),
    Rule {
        view: View::Text,
        ..rule(
            "command.mail_protocol",
            2,
            CRITICAL,
            // A line break, then a mail protocol command with the syntax its server reads
            // (a value that ends up on an SMTP, IMAP or POP3 connection, or in a mail header,
            // smuggles a command after the CR LF): SMTP envelope commands (RFC 5321), an IMAP
            // tagged command (RFC 9051: a tag with a digit, then a command), POP3 commands
            // with their numeric arguments (RFC 1939), `AUTH` with a registered SASL
            // mechanism (RFC 4422 registry) and `APOP` with its MD5 digest. Strict only: a
            // textarea's own line breaks are CR LF too.
            concat!(
                r"[\r\n]\s*(?:(?:mail\s+from|rcpt\s+to)\s*:|(?:helo|ehlo|lhlo)\s+[\w.-]+\s*(?:[\r\n]|$)|(?:vrfy|expn)\s+\S",
                r"|[a-z]{0,4}\d{1,6}\s+(?:capability|noop|logout|starttls|authenticate|login|enable|select|examine|create|delete|rename|subscribe|unsubscribe|list|lsub|namespace|status|append|idle|close|unselect|expunge|search|fetch|store|copy|move|uid)\b",
                r"|(?:retr|dele|list|top|uidl)\s+\d+(?:\s+\d+)?\s*(?:[\r\n]|$)|apop\s+\S+\s+[0-9a-f]{32}\b",
                r"|auth(?:enticate)?\s+(?:plain|login|cram-md5|digest-md5|gssapi|gs2-krb5|ntlm|xoauth2|oauthbearer|scram-sha-\d+(?:-plus)?|external|anonymous|otp|skey)\b)",
            ),
        )
    },
];

#[cfg(test)]
mod tests {
    use super::super::{Engine, Location, Part};

    fn rules(value: &str) -> Vec<&'static str> {
        rules_at(value, 1)
    }

    fn rules_at(value: &str, paranoia: u8) -> Vec<&'static str> {
        let engine = Engine::get().unwrap();
        let mut out = Vec::new();
        engine.scan(
            value,
            Part::Value,
            paranoia,
            &mut Location::new(format_args!("v")),
            &mut out,
        );
        out.iter()
            .filter(|f| f.category == crate::event::Category::CommandInjection)
            .map(|f| f.rule)
            .collect()
    }

    /// Generated variants: every command in command position with command syntax is
    /// found, whatever the separator; the same words in English sentences are not.
    #[test]
    fn vocabulary_in_command_position_only() {
        let commands = [
            "cat", "find", "sort", "head", "wget", "curl", "whoami", "uname", "chmod", "nc", "ls",
            "id", "tar", "python3", "perl", "sleep", "kill", "more", "time",
        ];
        for cmd in commands {
            for v in [
                format!(";{cmd} -x"),
                format!("x; {cmd} /etc/hosts"),
                format!("|{cmd} 1"),
                format!("1 && {cmd} ./a.sh"),
                format!("$({cmd})"),
                format!("`{cmd}`"),
            ] {
                assert!(!rules(&v).is_empty(), "not found: {v:?}");
            }
            // Only English words must pass in prose: `wget` is no word in any sentence.
            let word = !matches!(cmd, "wget" | "whoami" | "uname" | "chmod" | "python3");
            for v in [
                format!("I would {cmd} it later; sort of"),
                format!("we {cmd} the {cmd} and then, well, we see"),
                format!("great product; {cmd} is what I needed"),
            ]
            .into_iter()
            .filter(|_| word)
            {
                assert!(
                    !rules(&v).contains(&"command.separator_then_command"),
                    "prose flagged: {v:?} {:?}",
                    rules(&v)
                );
            }
        }
    }

    /// Random passwords (printable ASCII) whose punctuation looks like shell syntax but is
    /// none: a bare name glued into backticks, an unclosed backtick, `$var` glued to a shell
    /// name with no argument, a two-letter cmd built-in without one, process substitution
    /// inside a run of characters. The same shapes with the grammar are still found.
    #[test]
    fn password_punctuation_without_shell_grammar() {
        for v in [
            "p h9ol:'plybi`ps`)<}o",
            "e{q`nm`^eu@cc&lkhof1#u",
            "+etb`ln pdbzv.jsf",
            "nc$o=op`e",
            "jp{y;lz7>tz}sh$jbdkfj@qdo[{pm<v",
            "u))ay5|rd>yob",
            "kc?1z&*0iyre m&rd&&f",
            "ltc^le<(kdyk)vu<d$vlj|4n%",
            ";lf9][->d~>'(vs)}kqbit",
            "i ran rm -rf on what i thought was the temp folder",
        ] {
            let found = rules(v);
            assert!(found.is_empty(), "{v:?} {found:?}");
        }
        for v in [
            "`id`",
            "x=`uname -a`;",
            "a `whoami` b",
            ";`cat<<<ifconfig`",
            "a; sh$xx -c whoami",
            "cat${ifs}/etc/passwd",
            "x | rd /s /q c:\\temp",
            "1 & md c:\\x",
            "cat <(ls)",
            "<(cmd)",
            "rm -rf /var/www",
            "x; sudo rm -rf ~/",
        ] {
            assert!(!rules(v).is_empty(), "not found: {v:?}");
        }
    }

    /// Windows folder variables start paths in prose; in command position they are commands.
    #[test]
    fn windows_folder_variables_count_in_command_position_only() {
        for v in [
            "the installer logs to %appdata%\\example\\logs.",
            "see %userprofile%\\documents and %temp%",
        ] {
            assert!(!rules(v).contains(&"command.windows"), "{v:?}");
        }
        for v in [
            "x & %windir%\\system32\\calc.exe",
            "%systemroot%\\system32\\cmd.exe /c dir",
            "a | %comspec% /k",
            "echo %comspec%",
        ] {
            assert!(rules(v).contains(&"command.windows"), "{v:?}");
        }
    }

    #[test]
    fn short_commands_after_punctuation_in_passwords_are_not_commands() {
        for v in [
            "Ue)h4|H^d&m:(2O0h",
            "pZfBh&y`PS",
            "cic|Pr;<_<)^tZ",
            "ab;w)x9",
            "k[9;ls",
        ] {
            assert!(
                !rules(v).contains(&"command.separator_then_command"),
                "{v:?} {:?}",
                rules(v)
            );
        }
        for v in ["1;id", "x|ls", "127.0.0.1; id", "a && whoami"] {
            assert!(!rules(v).is_empty(), "{v:?}");
        }
    }

    /// Generated variants: each protocol's commands with their syntax, after CR LF or a
    /// bare LF, under strict; never under balanced, and not the same words in lines of
    /// text (a textarea's line breaks are CR LF as well).
    #[test]
    fn mail_protocol_commands_after_a_line_break_under_strict() {
        let commands = [
            "MAIL FROM:<a@example.org>",
            "RCPT TO:<postmaster>",
            "EHLO relay.example.org",
            "VRFY root",
            "a001 LOGIN user secret",
            "A1 UID STORE 1:3 +FLAGS (\\Deleted)",
            "7 SELECT INBOX",
            "RETR 12",
            "TOP 1 10",
            "DELE 3",
            "AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=",
            "AUTHENTICATE XOAUTH2",
            "APOP mrose c4c9334bac560ecc979e58001b3e22fb",
        ];
        for cmd in commands {
            // The engine reads normalised (lower-cased) values.
            let cmd = cmd.to_lowercase();
            for v in [format!("x\r\n{cmd}"), format!("hello\n{cmd}\r\n")] {
                assert!(
                    rules_at(&v, 2).contains(&"command.mail_protocol"),
                    "not found: {v:?}"
                );
                assert!(!rules_at(&v, 1).contains(&"command.mail_protocol"), "{v:?}");
            }
            assert!(
                !rules_at(&cmd, 2).contains(&"command.mail_protocol"),
                "{cmd:?}"
            );
        }
        for v in [
            "Shopping:\r\nList three things you need\r\nthen go",
            "Dear team,\r\nI select the blue one.\r\nThanks",
            "Steps:\r\n1. Select the file\r\n2. Login with your account",
            "Auth failed again\r\nplease help",
            "Top 10 tips\nretr is not a word",
        ] {
            let v = v.to_lowercase();
            assert!(!rules_at(&v, 2).contains(&"command.mail_protocol"), "{v:?}");
        }
    }
}
