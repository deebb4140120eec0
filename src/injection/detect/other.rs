//! The other families: remote file inclusion, generic injections (server-side template
//! injection, Node.js, prototype pollution, SSRF to metadata and loopback addresses,
//! NoSQL operators) and session fixation.

use crate::event::Category;

use super::{Part, Rule, View, CRITICAL, WARNING};

const fn rule(
    name: &'static str,
    category: Category,
    paranoia: u8,
    score: u16,
    parts: &'static [Part],
    pattern: &'static str,
) -> Rule {
    Rule {
        name,
        category,
        paranoia,
        score,
        view: View::Text,
        parts,
        pattern,
    }
}

const RFI: Category = Category::RemoteFileInclusion;
const GENERIC: Category = Category::GenericInjection;
const FIXATION: Category = Category::SessionFixation;

pub(crate) static RULES: &[Rule] = &[
    rule(
        "rfi.ip_url",
        RFI,
        1,
        CRITICAL,
        &[Part::Value, Part::Name],
        r"^\s*(?:url\s*:\s*)?(?:file|ftps?|https?)://\[?(?:\d{1,3}\.){3}\d{1,3}",
    ),
    rule(
        "rfi.include_call",
        RFI,
        1,
        CRITICAL,
        &[Part::Value, Part::Name, Part::Path],
        r"\b(?:include|require|file_get_contents|fopen)(?:_once)?\s*\(?\s*['\x22]?\s*(?:ftps?|https?|php|data|expect)://",
    ),
    rule(
        "rfi.trailing_question_mark",
        RFI,
        1,
        CRITICAL,
        &[Part::Value, Part::Name],
        r"^\s*(?:ftps?|https?)://[^\s]*?\?+\s*(?:#.*)?$|^\s*(?:ftps?|https?)://[^\s]*?(?:\?|&)(?:[^=]*=)?(?:ftps?|https?)://",
    ),
    rule(
        "rfi.off_domain_url",
        RFI,
        2,
        CRITICAL,
        &[Part::Value],
        r"^\s*(?:ftps?|https?|file)://[^/\s]+/\S*\.(?:txt|php\d?|inc|asp|aspx|jsp|cgi|pl|sh|py|exe|jpg|gif|png|js)(?:\?|$)",
    ),
    rule(
        "generic.template_injection",
        GENERIC,
        1,
        CRITICAL,
        &[],
        r"(?:\{\{[^}]{0,200}?(?:__\w+__|\bconfig\b|\bself\b|\brequest\b|\blipsum\b|\bcycler\b|\bjoiner\b|\bnamespace\b|\bget_flashed_messages|\burl_for|\bsettings\b|\bconstructor\b|\d+\s*[*+/-]\s*\d+|['\x22]\s*\|\s*\w+|\[\s*['\x22]|\|\s*(?:attr|join|safe|e|map|select)\b|\.\s*(?:__class__|mro|subclasses|globals|popen|system|exec|read\s*\())|\{%\s*(?:import|include|extends|set|for|if|macro|call|from|raw|debug|block|filter|with|exec)\b|\$\{\s*\d+\s*[*+/-]\s*\d+\s*\}|#\{\s*\d+\s*[*+/-]\s*\d+\s*\}|<%=?\s*[^%]{0,200}%>|\{\{\s*\d+\s*[*+/-]\s*['\x22]?\d+|\$\{\s*(?:t\s*\(|@|\x22|new\s)|\*\{[^}]{0,100}\bt\s*\(|@\{[^}]{0,100}(?:\$\{|__|\bt\s*\()|@+\{\s*\[|\[\[\s*\$\{)",
    ),
    rule(
        "generic.nodejs",
        GENERIC,
        1,
        CRITICAL,
        &[],
        r"(?:\brequire\s*\(\s*['\x22`](?:child_process|fs|net|http|vm|os)['\x22`]\s*\)|\bchild_process\b|\bprocess\s*\.\s*(?:mainmodule|binding|env|exit|kill|dlopen)|\b(?:execsync|spawnsync|execfile|spawn)\s*\(|\bglobal\s*\.\s*process|\bthis\s*\.\s*constructor\s*\.\s*constructor|\bconstructor\s*\.\s*constructor\s*\(|\bfunction\s*\(\s*\)\s*\{\s*return\s+process|\bnew\s+function\s*\(\s*['\x22`]return|\bimport\s*\(\s*['\x22`](?:child_process|fs)|\bvm\s*\.\s*runin\w*context|\b_\$\$nd_func\$\$_|\bdeserialize\s*\(|\bwhile\s*\(\s*!*\s*(?:\x22\x22|''|``|true|1|\[\]|\{\})\s*\)|\bfor\s*\(\s*;\s*;\s*\)|\b(?:localtest\.me|lvh\.me|nip\.io|sslip\.io|xip\.io|vcap\.me)\b)",
    ),
    rule(
        "generic.prototype_pollution",
        GENERIC,
        1,
        CRITICAL,
        &[],
        r"(?:__proto__|\bconstructor\s*(?:\.|\[\s*['\x22]?)\s*prototype\b|\[\s*['\x22]?constructor['\x22]?\s*\]\s*\[\s*['\x22]?prototype|\bobject\.prototype\b)",
    ),
    rule(
        "generic.ssrf_metadata",
        GENERIC,
        1,
        CRITICAL,
        &[Part::Value, Part::Name, Part::Path],
        r"(?:^|[^\w.])(?:(?:https?|gopher|dict|ftp|file|ldap|tftp|netdoc|jar|smb|sftp)://)?(?:169\.254\.169\.254|169\.254\.170\.2|metadata\.google\.internal|metadata\.azure\.com|100\.100\.100\.200|fd00:ec2::254|instance-data\b|\[?::ffff:169\.254|0xa9fea9fe|2852039166|0251\.0376\.0251\.0376|alibaba\.com/latest/meta-data|/latest/(?:meta-data|user-data|api/token)|/computemetadata/v1|/metadata/(?:instance|identity))",
    ),
    rule(
        "generic.ssrf_scheme",
        GENERIC,
        1,
        CRITICAL,
        &[Part::Value, Part::Name],
        r"(?:^|[^\w])(?:gopher|dict|ldap|tftp|netdoc|jar|sftp|smb|ssh2|expect)://|^\s*(?:https?|ftp)://(?:[^/@\s]*@)?(?:0\.0\.0\.0|0x7f[0-9a-f]*|2130706433|0177\.|\[::\]|\[::ffff:[0-9a-f.:]+\]|\[0:0:0:0:0:ffff|0+:|127\.0*[1-9]\d*\.|(?:10|192\.168|172\.(?:1[6-9]|2\d|3[01]))\.\d+\.\d+)",
    ),
    rule(
        "generic.nosql_operator",
        GENERIC,
        1,
        CRITICAL,
        &[],
        r#"\[\s*\$(?:ne|eq|gt|gte|lt|lte|in|nin|regex|where|exists|or|and|not|nor|expr|function|accumulator|elemmatch)\s*\]|(?:^|[{,]\s*)['"]?\$(?:where|function|accumulator|expr|regex|ne|gt|nin)['"]?\s*:"#,
    ),
    rule(
        "generic.unix_shell_eval",
        GENERIC,
        1,
        CRITICAL,
        &[],
        r"(?:\b(?:runtime|kernel|io|open3|system|spawn|exec)\s*\.\s*(?:exec|popen|spawn|system|capture\d|eval|instance_eval|class_eval|send)\s*[(\s'\x22]|\b__import__\s*\(|\bos\s*\.\s*(?:system|popen|exec\w*|spawn\w*)\s*\(|\bsubprocess\s*\.\s*(?:call|run|popen|check_output)|\bpickle\s*\.\s*loads|\bgetattr\s*\(\s*__builtins__)",
    ),
    rule(
        "generic.data_scheme_script",
        GENERIC,
        2,
        WARNING,
        &[],
        r"\bdata:[a-z]+/[a-z0-9.+-]+;base64,",
    ),
    rule(
        "fixation.cookie_in_value",
        FIXATION,
        1,
        CRITICAL,
        &[Part::Value, Part::Name, Part::Path],
        r"(?:\.cookie\b[^;]{0,200};\W*(?:expires|domain|path)\W*=|\bhttp-equiv\W+set-cookie\b)",
    ),
    rule(
        "fixation.session_parameter",
        FIXATION,
        1,
        CRITICAL,
        &[Part::Name],
        // The session cookie names of the frameworks that accept their session id from a
        // URL or form parameter too (servlet URL rewriting, PHP `session.use_trans_sid`,
        // ASP, ColdFusion, ...), read as a query, form or JSON parameter name: a session
        // id planted through a link. Never a cookie's name (see `Part::CookieName`), and
        // not the generic names a payment provider or socket.io returns in a query string
        // (`session_id`, `sid`), nor CSRF token names: those carry no session.
        r"^(?:jsessionid|aspsessionid\w*|asp\.net_sessionid|phpsession|phpsessid|weblogicsession|sessionid|session-id|cfid|cftoken|cfsid|jservsession|jwsession|connect\.sid|(?:__(?:secure|host)-)?next-auth\.session-token|meteor_login_token|rack\.session|_rails_session|play_session|sails\.sid|cakephp|ci_session|koa[.:]sess(?:\.sig)?|zend_session_id|laravel_session|express\.sid|express:sess|_session_id|flask_session|django_session|beaker\.session\.id|shiny-session|wordpress_logged_in\w*|joomla_session\w*)$",
    ),
    rule(
        "generic.nodejs_probe",
        GENERIC,
        1,
        CRITICAL,
        &[],
        r#"\bconsole\s*(?:\.\s*\w+|\[\s*['"`]\w+['"`]\s*\])\s*\(|\bprocess\s*\[|\brequire\s*\.\s*main\b|\._load\s*\(|\breaddirsync\b|xyqktkrfrlvoqyqkx|\bwhile\s*\(+\s*[!+\-(]*\s*(?:true|false|infinity|string|undefined|\{\}|\[\]|\d)"#,
    ),
    rule(
        "rfi.ipv6_or_bare_scheme",
        RFI,
        1,
        CRITICAL,
        &[Part::Value, Part::Name],
        r"^\s*(?:file|ftps?|https?)://\[?[0-9a-f]{1,4}:[0-9a-f:]*:[0-9a-f:.]*\]?|^\s*(?:file|ftps?|https?)\s*\?+\s*$",
    ),
    rule(
        "generic.nodejs_payload",
        GENERIC,
        1,
        CRITICAL,
        &[],
        r#"\bmodule\s*\.\s*exports\s*=|\b(?:xyqk|d2hpbgu|xhuwmd)[a-z0-9+/]{6,}|\$[0-9a-z@]+:\w+:(?:prototype|constructor|__proto__)"#,
    ),
    rule(
        "generic.ssrf_local_host",
        GENERIC,
        1,
        CRITICAL,
        &[Part::Value],
        // Internal names of container platforms (Docker Desktop, Kubernetes) and cloud
        // metadata hosts. Plain `localhost` / `127.0.0.1` over http(s) are the loopback
        // redirect URIs native OAuth clients register (RFC 8252 section 7.3): they are
        // only flagged under `strict` (`generic.ssrf_loopback`).
        // Loopback written the way no client writes a redirect URI is flagged: without a
        // scheme, with a malformed or non-http scheme, as `localhost4`/`localhost6`.
        r"^\s*(?:(?:[a-z]+:/*)?(?:localhost[46]|localhost\.localdomain[46]?)|[a-z]+:/?(?:localhost|127\.\d+\.\d+\.\d+)|(?:[a-gi-z][a-z]*|h[a-su-z][a-z]*|https?[a-z]+)://(?:localhost|127\.\d+\.\d+\.\d+)|localhost(?:/|$)|127\.\d+\.\d+\.\d+/|ipv6-localhost|ip6-(?:loopback|localhost)|(?:host|gateway|kubernetes)\.docker\.internal|kubernetes\.default(?:\.svc)?\S*|metadata\.packet\.net|0\.0\.0\.0)(?:[:/]|$)",
    ),
    rule(
        "generic.ssrf_loopback",
        GENERIC,
        2,
        CRITICAL,
        &[Part::Value],
        r"^\s*(?:https?://)?(?:localhost|127\.\d+\.\d+\.\d+|\[::1\])(?:[:/]|$)",
    ),
    rule(
        "generic.data_uri",
        GENERIC,
        1,
        CRITICAL,
        &[Part::Value, Part::Name],
        // A `data:` URL whose media type a browser or an include runs as code (RFC 2397;
        // the script-capable types of the HTML and PHP documentation). `data:image/...`,
        // `data:font/...` and the like are data, not XSS.
        r"^\s*data:\s*(?:text/(?:html|javascript|ecmascript|plain|xml|x-php|php)|application/(?:x-)?(?:javascript|ecmascript|xhtml\+xml|xml|httpd-php|php))\b",
    ),
];
