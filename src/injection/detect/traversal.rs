//! Path traversal and local file inclusion: `../` sequences after decoding and path
//! normalisation (backslashes, doubled slashes), and the names of sensitive OS and
//! application files.

use crate::event::Category;

use super::{Part, Rule, View, CRITICAL, WARNING};

const fn rule(
    name: &'static str,
    paranoia: u8,
    score: u16,
    view: View,
    parts: &'static [Part],
    pattern: &'static str,
) -> Rule {
    Rule {
        name,
        category: Category::PathTraversal,
        paranoia,
        score,
        view,
        parts,
        pattern,
    }
}

pub(crate) static RULES: &[Rule] = &[
    rule(
        "traversal.dot_dot_slash",
        1,
        CRITICAL,
        View::Path,
        &[],
        r"(?:^|[/=:;\s\x22'])\.{2,}(?:;[^/]*)?/|/\.{2,}(?:$|[;?#])|\.\./\.\.|^\.\.$",
    ),
    rule(
        "traversal.os_file",
        1,
        CRITICAL,
        View::Path,
        &[],
        r"(?:/etc/(?:passwd|shadow|group|gshadow|hosts|issue|master\.passwd|security|sudoers|crontab|profile|bashrc|motd|resolv\.conf|fstab|my\.cnf|php\.ini|environment|httpd|apache2?|nginx|mysql|ssh|init\.d|pwd\.db|spwd\.db|hostname|network|redhat-release|os-release|lsb-release|inittab|aliases|exports|ld\.so)|/proc/(?:self|\d+|[a-z]+)\b|/@(?:id|fs)/|/sys/(?:class|kernel|devices|block|bus|firmware|module|power|fs)\b|(?:^|[<>=|;&'\x22(:]|\.\./)(?:/tmp/|/var/(?:log|mail|spool|www|lib/mysql)/|/root/|/home/[^/]+/\.)|/usr/local/(?:etc|apache)|/opt/lampp|\bboot\.ini\b|\bwin\.ini\b|\bsystem\.ini\b|/windows/(?:system32|win\.ini|repair|panther)|/winnt/|\bsam\b/|/inetpub/|\bautoexec\.bat\b|/dev/(?:null|tcp|udp|zero|random|stdin|fd/))",
    ),
    rule(
        "traversal.restricted_file",
        1,
        CRITICAL,
        View::Path,
        &[Part::Path, Part::Value, Part::Name, Part::FileName],
        r"(?:^|/)(?:\.env(?:\.\w+)?|\.git(?:/|$|config|ignore)|\.svn/|\.hg/|\.bzr/|\.ds_store|\.htaccess|\.htpasswd|\.htdigest|\.bash_history|\.bashrc|\.ssh/|id_rsa|id_dsa|authorized_keys|known_hosts|\.aws/credentials|\.docker/config|\.npmrc|\.pgpass|\.my\.cnf|web\.config|wp-config\.php|config\.php\.bak|\.idea/|\.vscode/|composer\.(?:json|lock)|package-lock\.json|\.travis\.yml|docker-compose\.yml|dockerfile|\.kube/config|localsettings\.php|settings\.py|database\.yml|secrets\.yml|\.gitlab-ci\.yml|phpinfo\.php|server-status|\.user\.ini|\.(?:cursor|continue|roo|zed|cline|kiro|windsurf|a0proj|fabric|n8n|claude|junie|aiignore|aider\w*|codeium|copilot|gemini|github|docker|terraform|vault|circleci)(?:/|$)[^\s]*|[\w-]*(?:debug|error|errors|access)\.log|[\w.-]+\.env)(?:$|[?#;/])",
    ),
    rule(
        "traversal.backup_file",
        2,
        CRITICAL,
        View::Path,
        &[Part::Path, Part::Value, Part::FileName],
        // Backup and dump extensions: a request for one is a probe for a leaked copy, but
        // the same names are ordinary in a storage API or a commit's file list, so only
        // under `strict`.
        r"(?:^|/)[\w.-]+\.(?:sql|bak|backup|old|swp|sav|orig)(?:\.(?:zip|gz|tgz|tar|7z|rar|bz2))?(?:$|[?#;/])",
    ),
    rule(
        "traversal.encoded_dot_dot",
        1,
        CRITICAL,
        View::Text,
        &[],
        r"(?:%(?:25)*(?:2e|c0%ae|e0%80%ae|u002e|c0%2e)){2}(?:%(?:25)*(?:2f|5c|c0%af|c1%9c|u2215|u2216|e0%80%af)|[/\\])|\.\.(?:%(?:25)*(?:2f|5c|c0%af|c1%9c))|(?:0x2e){2}(?:0x2f|0x5c)|0x5c0x2e|(?:\\x2e){2}",
    ),
    rule(
        "traversal.file_scheme",
        2,
        WARNING,
        View::Path,
        &[],
        r"(?:^file:/|^[a-z]:/(?:windows|winnt|boot|inetpub|users)|^/(?:etc|proc|var|usr|root|bin|sbin|tmp|dev)/)",
    ),
    rule(
        "traversal.restricted_upload_name",
        1,
        CRITICAL,
        View::Path,
        &[Part::FileName],
        r"(?:^|/)(?:\.boto|mtrr|wp-config\S*|config\.ya?ml|settings\.\s*php|\.htaccess|\.htpasswd|\.env\S*|web\.config|\.git\S*|\.ssh\S*|id_[rd]sa\S*|\.bash\w*|\.profile|\.npmrc|\.pypirc|\.netrc|\.docker\S*|\.aws\S*|\.kube\S*|credentials|authorized_keys)\s*$",
    ),
];
