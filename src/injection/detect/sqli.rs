//! SQL injection: a SQL tokenizer that turns a value into a fingerprint of token classes
//! (tried as-is, as if after a `'` and as if after a `"`), plus targeted rules for
//! tautologies, `UNION SELECT`, stacked queries, time-based probes, comment evasion and
//! the functions attackers use.
//!
//! The tokenizer follows the design libinjection made popular (token classes, a short
//! fingerprint, several quoting contexts) but is written here, with its own small list of
//! suspicious fingerprint shapes instead of a list of thousands of fingerprints.
//!
//! Why this file is long (about 850 lines of non-test code): about half of it is data:
//! the rule table and the tokenizer's keyword and function lists, and the rest is the
//! one tokenizer those lists feed. The lists and the code that reads them change
//! together (a new keyword class is a new list, a new arm and a new fingerprint shape),
//! so they stay in one file rather than being split at an arbitrary line.

use std::sync::{Arc, LazyLock};

use crate::event::Category;

use super::{Finding, Part, Rule, View, CRITICAL, WARNING};

const fn rule(name: &'static str, paranoia: u8, score: u16, pattern: &'static str) -> Rule {
    Rule {
        name,
        category: Category::Sqli,
        paranoia,
        score,
        view: View::Sql,
        parts: &[],
        pattern,
    }
}

/// A rule over the text view, where comments are still present.
const fn text_rule(name: &'static str, paranoia: u8, score: u16, pattern: &'static str) -> Rule {
    Rule {
        view: View::Text,
        ..rule(name, paranoia, score, pattern)
    }
}

/// Operators that compare in a tautology.
macro_rules! cmp {
    () => {
        r"(?:=|<=>|<>|!=|>=?|<=?|\blike\b|\brlike\b|\bregexp\b|\bis\b|\bbetween\b|\bin\s*\()"
    };
}

/// A constant operand: a number (with arithmetic), a quoted string, `null`, a boolean, a
/// hex literal, or `char(...)`/`chr(...)` of numbers.
macro_rules! constant {
    () => {
        r#"(?:[-+~!]?\s*(?:\d+(?:\.\d+)?(?:e\d+)?|0x[0-9a-f]+|'[^']*'|"[^"]*"|null|true|false|chr?\(\s*\d+(?:\s*,\s*\d+)*\s*\))(?:\s*[-+*/%^|&]\s*(?:\d+(?:\.\d+)?|'[^']*'))*)"#
    };
}

pub(crate) static RULES: &[Rule] = &[
    rule(
        "sqli.constant_condition",
        1,
        CRITICAL,
        // A boolean operator followed by a condition whose operands are all constants:
        // it is always true or always false, which only a probe needs. Recognised by
        // structure, whatever the spelling: comparisons (`=`, `<>`, `!=`, `<=>`, `<`,
        // `>`, `like`, `rlike`, `regexp`, `glob`), `[not] between c and c`,
        // `[not] in (c, ...)`, `is [not] null|true|false`, with arithmetic on either side
        // (`5-2=3`), in any case and with comments or any whitespace between tokens (the
        // SQL view has removed them). Prose has no constant-only condition after "and":
        // "born between 1990 and 1995" has no operator before the first constant.
        concat!(
            r"(?:^|[^a-z0-9_])(?:and|or|xor|having|where|when|&&|\|\|)[\s(]*",
            constant!(),
            r"\s*\)*\s*(?:(?:=|<=>|<>|!=|>=?|<=?|(?:not\s+)?(?:like|rlike|regexp|glob)\b)\s*\(?\s*",
            constant!(),
            r"|(?:not\s+)?between\s*\(?\s*",
            constant!(),
            r"\s*\)?\s*and\s*\(?\s*",
            constant!(),
            r"|(?:not\s+)?in\s*\(\s*",
            constant!(),
            r"\s*[,)]|is\s+(?:not\s+)?(?:null|true|false|unknown)\b)"
        ),
    ),
    rule(
        "sqli.union_select",
        1,
        CRITICAL,
        r"(?:^|[^a-z_])union(?:\s+(?:all|distinct))?[\s(]*select\b",
    ),
    rule(
        "sqli.tautology",
        1,
        CRITICAL,
        concat!(
            // The quote before the operator is the value's first: it closes the
            // application's literal (`x' or id > 0`). A quote that closes a literal the
            // value opened itself (`status = 'paid' and total > 100`) is text.
            r#"^[^'"`]*['"`]\s*\)*\s*(?:\bor\b|\band\b|\bxor\b|&&|\|\||\bdiv\b)\s*[\s(!~+-]*['"`]?[\w@.$-]*['"`]?\s*"#,
            cmp!(),
            // After a number, equality-like operators only (`10 and rating > 4` is text).
            // The operand is a word, a number or a quoted string (`1 or x=`, `1||''=`),
            // never nothing or a trailing operator (`9||=`, `0&&oh$2-=` in passwords).
            r#"|\d\s*\)*\s*(?:\bor\b|\band\b|\bxor\b|&&|\|\||\bdiv\b)\s*[\s(!~+-]*(?:'[^']*'|"[^"]*"|`[^`]*`|[\w@.$]+(?:-[\w@.$]+)*)\s*(?:=|<=>|<>|!=|\blike\b|\brlike\b|\bregexp\b|\bis\b)"#
        ),
    ),
    rule(
        "sqli.boolean_operand",
        1,
        CRITICAL,
        r#"^[^'"`]*['"`]\s*\)*\s*(?:\bor\b|\band\b|\bxor\b|&&|\|\|)\s*[(!~-]*\s*(?:['"`]?\d|true\b|false\b|not\b|null\b|[a-z_]+\s*\(|@|['"`]\s*['"`]|\()"#,
    ),
    rule(
        "sqli.bare_tautology",
        1,
        CRITICAL,
        concat!(
            r#"(?:^|[\s(])(?:or|and|xor|&&|\|\|)\s+\(?['"`]?[\w@.]+['"`]?\s*"#,
            // Equality-like operators only: `and rating > 4` is ordinary text. `is`
            // takes what SQL's `IS` takes (`null`, `true`, `false`, `unknown`: "and
            // perfection is no trifle" is prose), `like`/`rlike`/`regexp` a quoted
            // pattern or a number ("and it feels like home" is prose), `in` a list.
            r#"(?:(?:=|<=>|<>|!=)\s*\(?['"`]?[\w@.-]+|\bis\s+(?:not\s+)?(?:null|true|false|unknown)\b|(?:\blike|\brlike|\bregexp)\s*\(?\s*(?:['"`]|\d)|\bin\s*\(\s*['"`]?[\w@.-]+['"`]?\s*[,)])"#
        ),
    ),
    rule(
        "sqli.quote_comment",
        1,
        CRITICAL,
        // The login-bypass shape: a plain value (a user name, an e-mail address, an id),
        // the quote that closes the application's literal, then a comment or `;` that
        // ends the statement and nothing after it but the comment's own padding
        // (`admin'--`, `admin' #`, `jdoe@example.com')-- -`). A quote followed by `#` in
        // the middle of a random password has neither the plain value before it nor an
        // empty comment after it; SQL between the quote and the comment is read by the
        // fingerprint and the tautology rules.
        r#"^[\w@.+ -]*['"`]\s*\)*\s*(?:--(?:[\s+-][^\n]*)?|#[\s#+-]*|;\s*(?:--[\s+-]*|#[\s+-]*)?)$"#,
    ),
    rule(
        "sqli.stacked_query",
        1,
        CRITICAL,
        r"(?:;|['`]\s*;?)\s*(?:drop\s+(?:table|database|user|schema)|delete\s+from|insert\s+into|update\s+[\w.`\[\]]+\s+set\b|select\s+[\w@*(]|exec(?:ute)?\s+[\w@(]|declare\s+@|shutdown\b|show\s+(?:tables|databases|warnings|grants|variables|columns)|truncate\s+table|alter\s+(?:table|user|database)|create\s+(?:table|user|database|function|procedure)|waitfor\s+delay|grant\s+|revoke\s+|rename\s+table|load\s+data|call\s+\w+\s*\(|set\s+@|begin\s|copy\s+\w)",
    ),
    rule(
        "sqli.time_based",
        1,
        CRITICAL,
        r"(?:\bsleep\s*\(\s*[\d(@]|\bbenchmark\s*\(|\bwaitfor\s+(?:delay|time)\b|\bpg_sleep\s*\(|\bdbms_pipe\.receive_message|\bdbms_lock\.sleep|\brandomblob\s*\(\s*\d{6})",
    ),
    rule(
        "sqli.function_abuse",
        1,
        CRITICAL,
        r#"(?:\bload_file\s*\(|\binto\s+(?:out|dump)file\b|\binformation_schema\b|\bmysql\.(?:user|db)\b|\bpg_(?:catalog|shadow|user|database|read_file|ls_dir)\b|\bsys(?:objects|columns|databases|users|logins)\b|\bsys\.(?:tables|objects|columns|databases|sql_logins|all_tables)\b|\bxp_(?:cmdshell|dirtree|regread|servicecontrol|fileexist)\b|\bsp_(?:executesql|password|oacreate|configure|makewebtask|addsrvrolemember)\b|\butl_(?:http|inaddr|file)\b|\bextractvalue\s*\(|\bupdatexml\s*\(|\bgroup_concat\s*\(|\bchar\s*\(\s*\d+\s*(?:,\s*\d+\s*)+\)|\bchr\s*\(\s*\d+\s*\)\s*(?:\|\||\+)|\bconcat(?:_ws)?\s*\(\s*(?:0x|char|@@|['"]|\(?select)|@@(?:version|datadir|hostname|basedir|servername|tmpdir)|\b(?:version|database|current_user|system_user|session_user|user|schema|current_database)\s*\(\s*\)|\bascii\s*\(\s*substr|\b(?:substr|substring|mid)\s*\(\s*\(?\s*(?:select|@@|user|database|version)|\bunhex\s*\(|\bname_const\s*\(|\bprocedure\s+analyse\b|\bexp\s*\(\s*~|\bfloor\s*\(\s*rand\s*\(|\bcount\s*\(\s*\*\s*\)\s*,\s*concat|\bdbms_\w+\.|\bsysibm\.|\bmsysaccessobjects\b|\bsqlite_master\b|\bpg_\w+\s*\(|\bconvert\s*\(\s*int\s*,|\bcast\s*\(.{0,40}\bas\s+(?:int|char|varchar|numeric|text)\b|\biif\s*\(|\bif\s*\(.{0,60},.{0,60},|\bcase\s+when\b.{0,80}\bthen\b|\bdecode\s*\(|\bopenrowset\s*\(|\bopendatasource\s*\(|\bbulk\s+insert\b|\bcollate\s+\w)"#,
    ),
    rule(
        "sqli.select_from",
        1,
        CRITICAL,
        r#"(?:^|[\s('"`;=(])select\s+(?:top\s+\d+\s+)?(?:distinct\s+)?(?:\*|[@\w.`"\[\]]+(?:\s*\([^)]{0,40}\))?(?:\s*,\s*[@\w.`"\[\]()*]+){0,20})\s+from\s+[\w.`"\[\]]+"#,
    ),
    rule(
        "sqli.keyword_sequence",
        1,
        CRITICAL,
        // `DROP TABLE` is a statement of its own: SQL reads it at a statement's start (the
        // value's start, after `;`, or, as T-SQL needs no `;`, after the literal or number
        // that ends the application's statement), not after a word ("our intern ran drop
        // table customers" in a support ticket).
        r"(?:\binsert\s+into\s+[\w.`\[\]]+\s*(?:\(|values|select)|\bdelete\s+from\s+[\w.`\[\]]+\s+where\b|(?:^|[;'\x22`)\d])\s*drop\s+(?:table|database)\s+(?:if\s+exists\s+)?[\w.`\[\]]+|\bupdate\s+[\w.`\[\]]+\s+set\s+[\w.`]+\s*=|\border\s+by\s+\d+\s*(?:--|#|$|,\s*\d)|\bgroup\s+by\s+[\w.]+\s+having\b|\bhaving\s+\d+\s*=\s*\d+|\blimit\s+\d+\s*,\s*\d+\s*(?:--|#)|\bselect\s+(?:@@|\d+\s*,\s*\d+|null\s*,|char\(|0x[0-9a-f]+|concat|case\b|if\s*\(|sleep|benchmark|\(select)|\bexec\s+(?:master|xp_|sp_)|\bwhere\s+\d+\s*=\s*\d+|\bunion\s+(?:all\s+)?\(?\s*values\b)",
    ),
    text_rule(
        "sqli.comment_evasion",
        1,
        CRITICAL,
        r"(?:/\*\s*[+!][^*]{0,200}\*/|/\*!\d*\s*(?:union|select|and|or|from|where|insert|update|delete|drop|sleep|concat)|(?:union|select|from|where|and|or)/\*|\*/(?:union|select|from|where|and|or)\b)",
    ),
    rule(
        "sqli.hex_or_char_literal",
        2,
        WARNING,
        r"(?:\b0x[0-9a-f]{6,}\b|\bx'[0-9a-f]{4,}'|\bb'[01]{8,}')",
    ),
    rule(
        "sqli.operator_probe",
        2,
        WARNING,
        r#"(?:['"`]\s*(?:\|\||&&|\+|-|\*|/|%|\^|<<|>>|=|<|>|!|~)\s*['"`]?\s*[\w@(]|['"`]\s*(?:or|and|xor|div|like|regexp|rlike|sounds\s+like|is|in|not|between)\b|@@\w+|\bor\b\s*\d|\band\b\s*\d)"#,
    ),
    rule(
        "sqli.select_keyword",
        2,
        WARNING,
        r"(?:\bselect\b.{0,100}\bfrom\b|\b(?:insert|delete|update|drop|alter|create|truncate|exec|union)\b.{0,40}\b(?:into|from|set|table|database|select|values)\b)",
    ),
    rule(
        "sqli.function_call",
        1,
        CRITICAL,
        // A SQL function called where SQL reads it: at the start of the value (the value is
        // the operand: `id=sleep(5)`), or after a quote, an operator with an operand
        // before it, `(`, `,`, `;` or a SQL keyword (`1 and user(`, `concat(0x7e,version(`).
        // The arguments, up to the next parenthesis, must be SQL: a spreadsheet range
        // (`=SUM(B2:B10)`, a formula starting with `=`), a PromQL range vector
        // (`sum(rate(x[5m]))`), or a CSS `format('woff2')` after a `url(...)` are not.
        // A function name after any other character (`\ln(`, `}pi(` in a random
        // password) is not a call.
        r"(?:^\s*|['\x22`(,;|&!+*/%^~-]\s*|[\w)'\x22]\s*(?:=|<>|!=|<=?|>=?)\s*|\b(?:select|and|or|xor|not|where|having|by|then|else|when|union|all|from|in|is|like|case|return|div|mod|between|values|exec|execute|call)\s+)(?:abs|acos|ascii|asin|atan2?|avg|benchmark|bin|bit_(?:and|count|length|or|xor)|cast|ceil(?:ing)?|char(?:_length|acter_length)?|chr|coalesce|collation|compress|concat(?:_ws)?|conv|convert|cos|cot|crc32|curdate|current_(?:date|time|timestamp|user)|curtime|database|datediff|date_(?:add|format|sub)|db_name|decode|degrees|des_(?:de|en)crypt|elt|encode|encrypt|exp|export_set|extractvalue|field|find_in_set|floor|format|found_rows|from_(?:base64|days|unixtime)|get_lock|greatest|group_concat|hex|if|ifnull|inet_aton|inet_ntoa|insert|instr|is_(?:free|used)_lock|isnull|last_insert_id|lcase|least|left|length|ln|load_file|locate|log(?:2|10)?|lower|lpad|ltrim|make_set|master_pos_wait|md5|mid|mod|name_const|now|nullif|oct|old_password|ord|password|pg_sleep|pi|position|pow(?:er)?|quote|radians|rand|randomblob|release_lock|repeat|replace|reverse|right|round|row_count|rpad|rtrim|schema|sec_to_time|session_user|sha[12]?|sign|sin|sleep|soundex|space|sqrt|std(?:dev)?|strcmp|str_to_date|subdate|substr(?:ing)?(?:_index)?|sum|sysdate|system_user|tan|time_format|to_(?:base64|char|days|number)|trim|truncate|ucase|uncompress(?:ed_length)?|unhex|unix_timestamp|updatexml|upper|user|utl_inaddr\.\w+|uuid|variance|version|weight_string|xmltype|jsonb?_\w+|div|lo_(?:get|import|export|open|from_bytea)|starts_with|pg_\w+|dbms_\w+\.\w+|sys_context|user_name|suser_s?name|host_name|is_srvrolemember|openquery|openrowset)\s*\\?\((?:[^():\[\]{}]*(?:\)|$)|[^():\[\]{}]*\([^():\[\]{}]*(?:[()]|$))",
    ),
    rule(
        "sqli.database_names",
        1,
        CRITICAL,
        r"\b(?:information_schema|tempdb|northwind|msdb|pg_catalog|pg_toast|schema_name|table_name|column_name|table_schema|mysql\.user|sysobjects|syscolumns|sysdatabases|sys\.objects|all_tables|user_tables|dba_users|sqlite_master|sqlite_temp_master|msysobjects|master\.\.sys\w*)\b",
    ),
    rule(
        "sqli.json_operators",
        1,
        CRITICAL,
        r#"'[^']{0,200}'\s*::\s*jsonb?\b|'\s*(?:->>?|#>>?|@>|<@|\?\||\?&|@\?|@@|#-)\s*'|\bjson_extract\s*\(|\b(?:or|and)\s+'\s*[\[{]|\)\s*::\s*[a-z]+|'\s*[<>]\s*'\$\."#,
    ),
    rule(
        "sqli.statement_start",
        1,
        CRITICAL,
        // `x'='x`: a comparison of two literals of the same quoting (a literal opened with
        // `'` closes with `'`; `` z`=\'n `` mixes quotes and parses as no SQL).
        r"(?:\b(?:rlike|regexp|like|in|exists|any|all)\s*\(\s*select\b|[=<>]\s*\(\s*select\b|\bdeclare\s+@\w|\bexecute\s+immediate\b|\bif\s*\(\s*\d+\s*[=<>]|\)\s*like\s*\(|\bselect\s+pg_sleep\b|\bselect\s*\(\s*\w+\s*\(|\balter\s+table\s+\S+\s+(?:add|drop|modify|change|rename)\b|\bcreate\s+(?:table|database|user|function|procedure|trigger|view)\s+[\w`\x22\[]|union\s*(?:all\s*)?select|\bas\s+[`\x22]?\w+[`\x22]?\s+from\b|`\s*(?:regexp|rlike|like)\b|\w'\s*(?:!=|<>|<=>|=)\s*'\w|\w\x22\s*(?:!=|<>|<=>|=)\s*\x22\w|\w`\s*(?:!=|<>|<=>|=)\s*`\w|\border\s+by\s+(?:if|case|\d+\s*(?:asc|desc)?\s*(?:--|#|;))|\bprocedure\s+\w+\s*\()",
    ),
    rule(
        "sqli.nosql_operator_key",
        1,
        CRITICAL,
        // The MongoDB query operators that change what a filter matches (MongoDB manual,
        // "Query and Projection Operators": comparison, logical, `$where`/`$expr`/`$regex`
        // and the server-side JavaScript ones). Not `$type` (the .NET type tag, and
        // MongoDB's `$type` only matters under a field, where `generic.nosql_operator` reads it), `$id`, `$ref`, `$values`
        // (.NET and JSON-reference metadata), not OData's `$search`/`$filter`/`$select`,
        // which share the spelling but are not operators where they appear.
        r"^\$(?:ne|eq|gt|gte|lt|lte|in|nin|all|size|mod|regex|where|exists|and|or|not|nor|expr|text|function|accumulator|elemmatch|jsonschema)$",
    ),
    rule(
        "sqli.magic_number",
        1,
        CRITICAL,
        r"(?:^|[^\d.])(?:2147483648|4294967295|4294967296|9223372036854775807|9223372036854775808|18446744073709551615|18446744073709551616|2\.2250738585072011e-308)(?:$|[^\d])|\b\d+\.e[(.]",
    ),
    rule(
        "sqli.strict_logic",
        2,
        CRITICAL,
        r#"(?:^|[\s/(&|'"])(?:or|and|xor|div|&&|\|\|)\s*\(?\s*[\w@.'"!-]{0,40}\s*(?:={1,3}|!={0,2}|<>|<=?|>=?)|(?:^|\s)(?:or|and|xor)\s*$|@[.\w]*\s*:?=\s*\(\s*select|\bset\s+@|--\s*(?:alter|drop|select|union)|\d(?:or|and|xor)\d|(?:&&|\|\|)\s*\(|\(\s*select\b"#,
    ),
    rule(
        "sqli.strict_function",
        2,
        CRITICAL,
        r"\b(?:count|date|if|in|length|ln|log|minute|month|password|time|user|values|version|year|left|right|quarter|hour|second|day|week|now|char|concat|substring|substr|ascii|sleep|sum|avg|min|max|cast|convert|coalesce|ifnull|isnull|nullif|abs|floor|ceil|round|rand|md5|sha1|hex|unhex|lower|upper|trim|replace|reverse|repeat|space|instr|locate|position|database|schema|exists|any|some)\b[^\w\s]{0,6}\s*\(",
    ),
    rule(
        "sqli.strict_operator",
        2,
        CRITICAL,
        r#"\blike\s+null\b|\bis\s+(?:not\s+)?null\b|\bnotnull\b|\bregexp\b|\brlike\b|&&|\|\||<<|>>|!=|<=>?|>=|<>|==|\bxor\b|\bin\s*\(\s*[\w'"-]|\bsounds\s+like\b|\bnot\s+(?:like|regexp|between|in)\b|\bis\s+not\b|\d+\s*(?:=|<=>|\blike\b|\bregexp\b)\s*['"]?\d+"#,
    ),
    rule(
        "sqli.strict_quote_keyword",
        2,
        CRITICAL,
        r#"['"`\xb4]\s*(?:alter|drop|create|rename|truncate|insert|delete|update|select|union|exec|is|not|like|or|and|xor|glob)\b|['"]\s*\*\s*from\b|['"]\s*=\s*#|\w['"]\s*\|\s*\w|\\+['"]+\s*(?:and|or)\b|\bas\s*['"`]?\s*\w*['"`]?\s*from\b|\bgroup\s+by\b|\bexecute\b|\bexec\s*\(|\bin\s*\(\s*select\b|\bexcept\s+select\b|\b(?:n?varchar|nchar|msdasql|sqloledb|current_user)\b|\bdrop\s+\w+\s*;|\bor\s*--|\bwhen\s+\d+\s+then\b|\bdelete\s+from\b|,\s*['"]?\w+['"]\s*=|['"]\s*,\s*['"]\d['"]\s*=|["']\s*['"]|\\x23|\blike\s+['"]"#,
    ),
];

/// Token classes of the fingerprint.
mod class {
    pub(super) const STRING: u8 = b's';
    pub(super) const NUMBER: u8 = b'1';
    pub(super) const BAREWORD: u8 = b'n';
    pub(super) const KEYWORD: u8 = b'k';
    pub(super) const UNION: u8 = b'U';
    pub(super) const SELECT: u8 = b'E';
    pub(super) const LOGIC: u8 = b'&';
    pub(super) const OPERATOR: u8 = b'o';
    pub(super) const FUNCTION: u8 = b'f';
    pub(super) const VARIABLE: u8 = b'v';
    pub(super) const COMMENT: u8 = b'c';
    /// A comment with text in it (`#P-Mo5y`): SQL ignores it as well, but an injection
    /// ends its statement with an empty one (`--`, `-- -`, `#`).
    pub(super) const TEXT_COMMENT: u8 = b'C';
    /// A comparison (`=`, `<`, `>`, `<>`, `!=`, `<=`, `>=`, `<=>`).
    pub(super) const COMPARISON: u8 = b'=';
    /// A keyword that starts a statement (`drop`, `insert`, `exec`, ...).
    pub(super) const STATEMENT: u8 = b'T';
}

/// Keywords that start a statement: after `;` they make a stacked query.
const STATEMENTS: &[&str] = &[
    "insert", "update", "delete", "drop", "exec", "execute", "declare", "create", "alter",
    "truncate", "shutdown", "show", "grant", "revoke", "waitfor", "set", "call", "begin", "load",
    "rename", "copy", "do", "handler", "use", "with", "replace",
];

/// Whether the comment text `body` (after `--` or `#`) is only the padding an injection
/// puts there (spaces, `-`, `+`).
fn empty_comment(body: &[u8]) -> bool {
    body.iter()
        .all(|c| c.is_ascii_whitespace() || matches!(c, b'-' | b'+' | b'#'))
}

/// How many tokens form the fingerprint.
const FINGERPRINT_LEN: usize = 8;

const KEYWORDS: &[&str] = &[
    "from",
    "where",
    "insert",
    "into",
    "values",
    "update",
    "set",
    "delete",
    "drop",
    "table",
    "database",
    "having",
    "group",
    "order",
    "by",
    "limit",
    "offset",
    "exec",
    "execute",
    "declare",
    "like",
    "rlike",
    "regexp",
    "between",
    "is",
    "null",
    "case",
    "when",
    "then",
    "else",
    "end",
    "waitfor",
    "delay",
    "procedure",
    "create",
    "alter",
    "truncate",
    "shutdown",
    "show",
    "grant",
    "revoke",
    "outfile",
    "dumpfile",
    "distinct",
    "top",
    "as",
    "in",
    "exists",
    "information_schema",
    "into",
    "desc",
    "asc",
    "join",
    "sounds",
    "collate",
    "glob",
    "escape",
];

const FUNCTIONS: &[&str] = &[
    "sleep",
    "benchmark",
    "pg_sleep",
    "ascii",
    "char",
    "chr",
    "concat",
    "concat_ws",
    "substring",
    "substr",
    "mid",
    "version",
    "database",
    "user",
    "current_user",
    "if",
    "iif",
    "ifnull",
    "isnull",
    "coalesce",
    "count",
    "load_file",
    "extractvalue",
    "updatexml",
    "group_concat",
    "hex",
    "unhex",
    "md5",
    "sha1",
    "length",
    "len",
    "cast",
    "convert",
    "rand",
    "floor",
    "exp",
    "elt",
    "make_set",
    "name_const",
    "row",
    "schema",
    "system_user",
    "session_user",
    "lower",
    "upper",
    "ord",
    "char_length",
    "instr",
    "locate",
    "position",
    "repeat",
    "replace",
    "reverse",
    "trim",
    "utl_inaddr",
    "randomblob",
    "json_extract",
    "xmltype",
    "dbms_pipe",
    "openrowset",
    "db_name",
    "host_name",
    "waitfor",
];

/// Word flag: in [`FUNCTIONS`].
const IS_FUNCTION: u8 = 1;
/// Word flag: in [`STATEMENTS`].
const IS_STATEMENT: u8 = 2;
/// Word flag: in [`KEYWORDS`].
const IS_KEYWORD: u8 = 4;

/// Buckets of the word lists by length and last byte, so a word is compared with the
/// few list words that could equal it instead of walking three lists.
struct Words {
    buckets: Vec<Vec<(&'static str, u8)>>,
}

impl Words {
    fn bucket(word: &str) -> usize {
        let last = word.as_bytes().last().copied().unwrap_or(0);
        (word.len() & 31) << 5 | usize::from(last & 31)
    }

    /// The list flags of `word` (0 when it is in no list).
    fn flags(&self, word: &str) -> u8 {
        self.buckets[Self::bucket(word)]
            .iter()
            .find(|(w, _)| *w == word)
            .map_or(0, |(_, f)| *f)
    }
}

static WORDS: LazyLock<Words> = LazyLock::new(|| {
    let mut buckets = vec![Vec::new(); 32 * 32];
    for (list, flag) in [
        (FUNCTIONS, IS_FUNCTION),
        (STATEMENTS, IS_STATEMENT),
        (KEYWORDS, IS_KEYWORD),
    ] {
        for word in list {
            let bucket: &mut Vec<(&'static str, u8)> = &mut buckets[Words::bucket(word)];
            match bucket.iter_mut().find(|(w, _)| w == word) {
                Some((_, f)) => *f |= flag,
                None => bucket.push((word, flag)),
            }
        }
    }
    Words { buckets }
});

/// Tokenizes `s` (already lower-cased, comments kept) into token classes, stopping after
/// [`FINGERPRINT_LEN`] tokens. `quote` is the quote the value is assumed to start inside.
fn tokens(s: &str, quote: Option<u8>) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(FINGERPRINT_LEN);
    let mut i = 0;
    if let Some(q) = quote {
        // The value continues a string the application opened.
        match b.iter().position(|c| *c == q) {
            Some(end) => {
                out.push(class::STRING);
                i = end + 1;
            }
            None => return out,
        }
    }
    while i < b.len() && out.len() < FINGERPRINT_LEN {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => i += 1,
            b'\'' | b'"' | b'`' => {
                let end = b[i + 1..].iter().position(|x| *x == c);
                // A string the value leaves open is a string only when it is a plain
                // word (the `'1` of `'1'='1`); after a random `'` it is just text.
                let open_plain = end.is_none()
                    && b[i + 1..]
                        .iter()
                        .all(|x| x.is_ascii_alphanumeric() || *x == b'_' || *x == b' ');
                out.push(if end.is_some() || open_plain {
                    class::STRING
                } else {
                    class::BAREWORD
                });
                i = end.map_or(b.len(), |e| i + 1 + e + 1);
            }
            b'0'..=b'9' | b'.' if c != b'.' || b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                // Numbers include hex and exponents; `1e0union` ends at the letter run.
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                    if b[i].is_ascii_alphabetic() && !matches!(b[i], b'x' | b'e' | b'a'..=b'f') {
                        break;
                    }
                    i += 1;
                }
                out.push(class::NUMBER);
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                out.push(if empty_comment(&b[i + 2..]) {
                    class::COMMENT
                } else {
                    class::TEXT_COMMENT
                });
                i = b.len();
            }
            b'#' => {
                out.push(if empty_comment(&b[i + 1..]) {
                    class::COMMENT
                } else {
                    class::TEXT_COMMENT
                });
                i = b.len();
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                out.push(class::COMMENT);
                i = s[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
            }
            b'@' => {
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'@')
                {
                    i += 1;
                }
                out.push(class::VARIABLE);
            }
            b'(' | b')' | b',' | b';' => {
                out.push(c);
                i += 1;
            }
            b'&' if b.get(i + 1) == Some(&b'&') => {
                out.push(class::LOGIC);
                i += 2;
            }
            b'|' if b.get(i + 1) == Some(&b'|') => {
                out.push(class::LOGIC);
                i += 2;
            }
            b'=' | b'<' | b'>' | b'!' | b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'|' | b'&'
            | b'~' | b':' => {
                let start = i;
                i += 1;
                while i < b.len() && matches!(b[i], b'=' | b'<' | b'>') {
                    i += 1;
                }
                out.push(match &b[start..i] {
                    b"=" | b"<" | b">" | b"<>" | b"!=" | b"<=" | b">=" | b"<=>" | b"==" => {
                        class::COMPARISON
                    }
                    _ => class::OPERATOR,
                });
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c == b'$' => {
                let start = i;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || b[i] == b'_'
                        || b[i] == b'.'
                        || b[i] == b'$')
                {
                    i += 1;
                }
                let word = &s[start..i];
                let next_paren = b[i..]
                    .iter()
                    .find(|x| !x.is_ascii_whitespace())
                    .is_some_and(|x| *x == b'(');
                let class = match word {
                    "union" => class::UNION,
                    "select" => class::SELECT,
                    "and" | "or" | "xor" | "not" | "div" | "mod" => class::LOGIC,
                    // Words longer than any list word are bare words (`len() < 32`
                    // also keeps every list word apart in its bucket).
                    w if w.len() >= 32 => class::BAREWORD,
                    w => {
                        let flags = WORDS.flags(w);
                        if next_paren && flags & IS_FUNCTION != 0 {
                            class::FUNCTION
                        } else if flags & IS_STATEMENT != 0 {
                            class::STATEMENT
                        } else if flags & IS_KEYWORD != 0 {
                            class::KEYWORD
                        } else {
                            class::BAREWORD
                        }
                    }
                };
                out.push(class);
            }
            _ => {
                // Any other byte (non-ASCII letters, punctuation) is part of a word.
                let start = i;
                i += 1;
                while i < b.len() && !b[i].is_ascii() {
                    i += 1;
                }
                if i - start > 0 {
                    out.push(class::BAREWORD);
                }
            }
        }
    }
    out
}

/// Whether the tokens `t` that follow a complete condition (`' = 1`, `' or x`) continue it
/// as SQL does: nothing, an empty comment, a stacked statement, `UNION`, a keyword
/// (`order by`, `limit`), boolean logic into another operand, a closing parenthesis, or
/// an operator into another operand. A bare word, a string, a number or a `(` right after
/// a complete condition is no SQL (it is the rest of a random password). A fingerprint
/// is [`FINGERPRINT_LEN`] tokens at most: running out of tokens counts as continuing.
fn continues(t: &[u8]) -> bool {
    let operand = |x: Option<&u8>| matches!(x, Some(b's' | b'1' | b'n' | b'v'));
    match t.first() {
        None | Some(b'c' | b'U' | b'k' | b'T') => true,
        Some(b';') => matches!(t.get(1), None | Some(b'E' | b'T' | b'c')),
        Some(b')') => continues(&t[1..]),
        Some(b'&') => match t.get(1) {
            None | Some(b'f' | b'(' | b'E') => true,
            x if operand(x) => after_operand(&t[2..]),
            _ => false,
        },
        Some(b'=' | b'o') => match t.get(1) {
            None | Some(b'f' | b'(') => true,
            // A call of a function the tokenizer does not know (`~all(array[...])`).
            Some(b'n') if t.get(2) == Some(&b'(') => true,
            // Arithmetic goes on into numbers, strings and variables; a bare word after
            // an operator after a complete condition is text (`... >51~og<8`).
            Some(b'n') => false,
            x if operand(x) => continues(&t[2..]),
            _ => false,
        },
        _ => false,
    }
}

/// After an operand of boolean logic (`' or x`, `' and 1`): the end, or a comparison or
/// arithmetic into another operand, or what may follow a complete condition.
fn after_operand(t: &[u8]) -> bool {
    match t.first() {
        Some(b'=' | b'o') => {
            matches!(
                t.get(1),
                None | Some(b's' | b'1' | b'n' | b'v' | b'f' | b'(')
            ) && (t.len() < 2
                || matches!(t[1], b'f' | b'(')
                || (t[1] == b'n' && t.get(2) == Some(&b'('))
                || continues(&t[2..]))
        }
        _ => continues(t),
    }
}

/// Whether a fingerprint has a shape only injected SQL has. `quoted` says whether the
/// value was assumed to start inside a string.
fn suspicious(fp: &[u8], quoted: bool, plain_prefix: bool) -> bool {
    let has = |pat: &[u8]| fp.windows(pat.len()).any(|w| w == pat);
    if has(b"UE") || has(b"U(E") || has(b"1UE") {
        return true;
    }
    // A stacked query: `;` then a statement, never `;` then any word.
    if has(b";E") || has(b";T") {
        return true;
    }
    // Operands and what may follow a complete condition.
    let operand = |t: Option<u8>| matches!(t, Some(b's' | b'1' | b'n' | b'v'));
    let ends_condition = |t: Option<u8>| {
        matches!(
            t,
            None | Some(b'o' | b'=' | b'&' | b'c' | b'k' | b'T' | b')' | b';' | b'U')
        )
    };
    if quoted {
        // The value closed the application's string: what follows decides, and it must
        // be SQL that parses, not just punctuation.
        let rest = &fp[1..];
        let first = rest.first().copied();
        let second = rest.get(1).copied();
        let third = rest.get(2).copied();
        return match first {
            // `' or 1=1`, `' or x`, `' or sleep(5)`, `' || (select ...)`.
            Some(b'&') => {
                (operand(second) && after_operand(&rest[2..]))
                    || matches!(second, Some(b'f' | b'&' | b'E'))
                    // `' or (select ...`, `' or (1=1`: the parenthesis opens SQL.
                    || (second == Some(b'(')
                        && (matches!(third, Some(b'E' | b'f' | b'('))
                            || (operand(third) && after_operand(&rest[3..]))))
            }
            // `'='`, `' = 1 or ...`, `'-1=1`: a comparison, or arithmetic that leads
            // into one or into boolean logic.
            Some(b'=') => {
                (matches!(second, Some(b's' | b'1' | b'v'))
                    && ends_condition(third)
                    && continues(&rest[2..])
                    && (third.is_some() || plain_prefix))
                    || second == Some(b'f')
                    // `'=(select ...`, `'=(1)`: a subquery or a parenthesised operand.
                    || (second == Some(b'(')
                        && (third == Some(b'E')
                            || (operand(third) && rest.get(3) == Some(&b')'))))
            }
            Some(b'o') => {
                matches!(second, Some(b's' | b'1' | b'f' | b'(' | b'v'))
                    && matches!(third, Some(b'&' | b'=' | b'c' | b'k'))
                    && continues(&rest[2..])
            }
            // `admin'--`: an empty comment ends the statement.
            Some(b'c') => plain_prefix,
            Some(b';') => {
                matches!(second, Some(b'E' | b'T' | b'c'))
                    || (second == Some(b'v') && third == Some(b'c'))
            }
            // `')) or 1=1`, `') union ...`: parentheses closed, then SQL goes on.
            Some(b')') => {
                let after = &rest[rest.iter().take_while(|t| **t == b')').count()..];
                // An operator that ends the value has no operand: the application's own
                // closing quote would follow it and open a string that never closes
                // (`')~`, `')=` in random passwords).
                let dangling = fp.len() < FINGERPRINT_LEN && matches!(after, [b'o' | b'=']);
                !after.is_empty() && continues(after) && !dangling
            }
            Some(b'U') => true,
            Some(b'k' | b'T') => {
                matches!(second, Some(b'1' | b'n' | b'E' | b'(' | b's' | b'k' | b'T'))
                    && rest.len() >= 3
                    // `' in progress '...`: a bare word after the keyword must lead on
                    // into SQL, not into more text.
                    && (second != Some(b'n') || ends_condition(third))
            }
            _ => false,
        };
    }
    // As-is: a number or word followed by boolean logic and a comparison, or a function call.
    matches!(
        fp,
        [
            b'1' | b'n' | b's',
            b'&',
            b'1' | b's' | b'v',
            b'=',
            b'1' | b's' | b'v',
            ..
        ] | [b'1', b'&', b'f', b'(', ..]
            | [b'1', b')', b'&', ..]
            | [b'1', b';', b'E' | b'T' | b'c', ..]
            | [b'1', b'c']
            | [b'1', b'&', b'1', b'c', ..]
            | [b'f', b'(', b'1' | b'f' | b'v' | b'E', b')', ..]
    )
}

/// The fingerprint check: tries the value as-is, after `'` and after `"`.
pub(crate) fn fingerprint(
    sql: &str,
    part: Part,
    paranoia: u8,
    location: &Arc<str>,
) -> Option<Finding> {
    if part == Part::Header && paranoia < 2 {
        // Header values (user agents) are free text with quotes and parentheses.
        return None;
    }
    if !sql.bytes().any(|c| {
        matches!(
            c,
            b'\''
                | b'"'
                | b'`'
                | b'('
                | b';'
                | b'#'
                | b'-'
                | b'='
                | b'<'
                | b'>'
                | b'|'
                | b'&'
                | b' '
        )
    }) {
        return None;
    }
    if !may_fingerprint(sql) {
        return None;
    }
    try_contexts(sql, location)
}

/// Whether `sql` has a token that some suspicious fingerprint needs ([`suspicious`]),
/// so that a value without any is not tokenized at all: a quote (the quoted contexts
/// start after one), or, as-is, a comparison (`= < >`), `(` (a function call), `)`,
/// `;`, a comment (`#`, `--`, `/*`), or the words `union` and `select` both.
fn may_fingerprint(sql: &str) -> bool {
    sql.bytes().any(|c| {
        matches!(
            c,
            b'\'' | b'"' | b'=' | b'<' | b'>' | b'(' | b')' | b';' | b'#'
        )
    }) || sql.contains("--")
        || sql.contains("/*")
        || (sql.contains("union") && sql.contains("select"))
}

/// The fingerprint check proper: the value as-is, after `'` and after `"`.
fn try_contexts(sql: &str, location: &Arc<str>) -> Option<Finding> {
    let contexts: [(Option<u8>, &str); 3] =
        [(None, "as-is"), (Some(b'\''), "'"), (Some(b'"'), "\"")];
    for (quote, _) in contexts {
        if quote.is_some_and(|q| !sql.as_bytes().contains(&q)) {
            continue;
        }
        let fp = tokens(sql, quote);
        // Whether what precedes the closing quote is a plain value (a name, an e-mail
        // address, a number), as in `admin'--`, rather than random punctuation.
        let plain_prefix = quote.is_some_and(|q| {
            sql.bytes()
                .take_while(|c| *c != q)
                .all(|c| c.is_ascii_alphanumeric() || b"@._- +".contains(&c))
        });
        if fp.len() >= 2 && suspicious(&fp, quote.is_some(), plain_prefix) {
            return Some(Finding {
                category: Category::Sqli,
                rule: "sqli.fingerprint",
                location: location.clone(),
                score: super::CRITICAL,
                evidence: String::from_utf8_lossy(&fp).into_owned(),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(s: &str, q: Option<u8>) -> String {
        String::from_utf8(tokens(s, q)).unwrap()
    }

    /// Words and punctuation the fingerprint reads.
    const VOCABULARY: &[&str] = &[
        "union",
        "select",
        "from",
        "where",
        "and",
        "or",
        "xor",
        "not",
        "between",
        "like",
        "in",
        "is",
        "null",
        "sleep",
        "order",
        "by",
        "drop",
        "table",
        "exec",
        "insert",
        "replace",
        "if",
        "char",
        "1",
        "0x41",
        "1e5",
        ".5",
        "x",
        "admin",
        "@a",
        "@@version",
        "'",
        "\"",
        "`",
        "=",
        "<",
        ">",
        "<>",
        "!=",
        "!",
        "(",
        ")",
        ",",
        ";",
        "--",
        "-",
        "#",
        "/*",
        "*/",
        "|",
        "||",
        "&",
        "&&",
        "+",
        "*",
        "/",
        "%",
        "^",
        "~",
        ":",
        "$",
        ".",
        " ",
        "\t",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(2000))]

        /// The cheap check before tokenizing never hides a finding.
        #[test]
        fn the_precheck_never_changes_the_fingerprint(
            words in proptest::collection::vec(proptest::sample::select(VOCABULARY), 0..12),
            spaced in proptest::bool::ANY,
        ) {
            let sql = words.join(if spaced { " " } else { "" });
            let loc: Arc<str> = Arc::from("q");
            let checked = if may_fingerprint(&sql) { try_contexts(&sql, &loc) } else { None };
            proptest::prop_assert_eq!(checked, try_contexts(&sql, &loc), "{:?}", sql);
        }
    }

    #[test]
    fn word_classes_follow_the_lists() {
        for w in FUNCTIONS.iter().chain(STATEMENTS).chain(KEYWORDS) {
            let flags = WORDS.flags(w);
            assert_eq!(flags & IS_FUNCTION != 0, FUNCTIONS.contains(w), "{w}");
            assert_eq!(flags & IS_STATEMENT != 0, STATEMENTS.contains(w), "{w}");
            assert_eq!(flags & IS_KEYWORD != 0, KEYWORDS.contains(w), "{w}");
        }
        assert_eq!(WORDS.flags("fromage"), 0);
        assert_eq!(WORDS.flags(""), 0);
    }

    #[test]
    fn tokenizer_classes() {
        assert_eq!(fp("1 union select 1,2", None), "1UE1,1");
        assert_eq!(fp("1' or '1'='1", Some(b'\'')), "s&s=s");
        assert_eq!(fp("admin'--", Some(b'\'')), "sc");
        assert_eq!(fp("x and sleep(5)", None), "n&f(1)");
        assert_eq!(fp("@@version", None), "v");
    }

    fn rules(value: &str) -> Vec<&'static str> {
        let engine = super::super::Engine::get().unwrap();
        let mut out = Vec::new();
        engine.scan(
            value,
            Part::Value,
            1,
            &mut super::super::Location::new(format_args!("v")),
            &mut out,
        );
        out.iter()
            .filter(|f| f.category == Category::Sqli)
            .map(|f| f.rule)
            .collect()
    }

    /// Literals compared must share their quote, and a boolean operator needs an operand:
    /// random passwords (`z'="n`, `9||=`) are no condition; the real ones still are.
    #[test]
    fn comparisons_need_matching_quotes_and_operands() {
        for v in [
            "5b|*yb\"i>axluuwe+khe5,z'=\"n",
            "9||=zsm$d&mh",
            "s1k-)4||=-",
            "0&&oh$2-=0ge*1z",
        ] {
            let found = rules(v);
            assert!(found.is_empty(), "{v:?} {found:?}");
        }
        for v in [
            "our intern ran drop table customers on staging",
            "we drop table tennis",
        ] {
            assert!(!rules(v).contains(&"sqli.keyword_sequence"), "{v:?}");
        }
        for v in [
            "drop table users",
            "1; drop table t",
            "x' drop table t--",
            "1 drop table t",
        ] {
            assert!(!rules(v).is_empty(), "not found: {v:?}");
        }
        for v in ["x'='x", "q='x'!='y", "1 or x=1", "1||''=''", "1 and a-b=1"] {
            assert!(!rules(v).is_empty(), "not found: {v:?}");
        }
    }

    #[test]
    fn fingerprints_flag_injections_only() {
        let loc: Arc<str> = Arc::from("query:q");
        for attack in [
            "1' or '1'='1",
            "admin'--",
            "1 union select 1,2",
            "1 and 1=1",
            "x'); drop table users",
            "admin'#",
            "admin' -- -",
            "x' or 1=1#",
            "1; drop table t",
        ] {
            assert!(
                fingerprint(attack, Part::Value, 1, &loc).is_some(),
                "{attack}"
            );
        }
        for benign in [
            "o'brien",
            "it's me and that's it",
            "rock 'n' roll",
            "2104 grant ave #a",
            "1-2 or 3 days",
            "select c1 from t1 order by c2",
            // Random passwords: a quote, then punctuation that does not parse as SQL.
            "N[7]v'#P-Mo5yKyA",
            "o)`>>EHp,IG^dwVQ\";3R]!k$W",
            "9#xv`V XqZ6@SMPk:Fb",
            "c4H<:lVZX3q|d}lG';[QcrFeg+x",
            "=>dj2~')~",
            "u5c6jo8\\0gm/buzbn')!",
            ",pjdr@~t6swqt`240#plb}sd^k@0')=",
            // OData: `eq`/`and` between quoted literals is not SQL.
            "status eq 'in progress' and created ge datetime'2024-01-01'",
        ] {
            assert!(
                fingerprint(benign, Part::Value, 1, &loc).is_none(),
                "{benign}"
            );
        }
    }
}
