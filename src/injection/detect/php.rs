//! PHP code injection: PHP open tags, dangerous functions called with arguments,
//! superglobals, stream wrappers, serialized objects, configuration directives, and
//! uploads with a PHP file name.

use crate::event::Category;

use super::{Part, Rule, View, CRITICAL, WARNING};

const fn rule(
    name: &'static str,
    paranoia: u8,
    score: u16,
    parts: &'static [Part],
    pattern: &'static str,
) -> Rule {
    Rule {
        name,
        category: Category::PhpInjection,
        paranoia,
        score,
        view: View::Text,
        parts,
        pattern,
    }
}

pub(crate) static RULES: &[Rule] = &[
    rule(
        "php.open_tag",
        1,
        CRITICAL,
        &[],
        // `<?xml ...?>`, `<?xml-stylesheet ...?>` and every other XML processing instruction
        // (`<?target ...?>`, XML 1.0 section 2.6) are not PHP: only `<?php`, the short
        // echo tag `<?=` and a bare `<?` followed by code (a call, an assignment, a
        // variable), and a statement closed by `?>` at the end of a value that opened no
        // processing instruction of its own. A `<?` or `?>` with no code beside it runs
        // nothing (random passwords end in `<?`).
        r"(?:<\?(?:php\b|=\s*[\w$'\x22(`]|\s+(?:[\w$]+\s*[(=;'\x22`]|\$|(?:php|echo|print|include|require|eval|system|exec|passthru)\b))|^(?:[^<]|<[^?])*;\s*\?>\s*$|\[\?php\b|<script\s+language\s*=\s*['\x22]?php)",
    ),
    rule(
        "php.function_call",
        1,
        CRITICAL,
        &[],
        r#"\b(?:eval|assert|system|exec|shell_exec|passthru|popen|proc_open|pcntl_exec|phpinfo|base64_decode|str_rot13|gzinflate|gzuncompress|gzdecode|file_get_contents|file_put_contents|fopen|fwrite|fputs|readfile|highlight_file|show_source|create_function|call_user_func(?:_array)?|preg_replace|array_map|array_filter|usort|uasort|register_shutdown_function|unserialize|var_dump|print_r|var_export|move_uploaded_file|curl_exec|fsockopen|pfsockopen|getenv|putenv|ini_set|ini_get|set_include_path|chmod|unlink|rmdir|mkdir|copy|rename|symlink|scandir|glob|opendir|readdir|posix_\w+|escapeshellcmd|escapeshellarg|get_defined_vars|get_current_user|phpversion|php_uname|mb_ereg_replace|iconv|convert_uuencode|str_replace|strrev|hex2bin|extract|parse_str|include_once|require_once|stream_get_contents|proc_nice|dl|mail|header|setcookie|ob_start|func_get_args)\s*\(\s*(?:['"`$@(]|\w+\s*\(|[a-z_]+\s*[,)]|\d)"#,
    ),
    rule(
        "php.include",
        1,
        CRITICAL,
        &[],
        r#"\b(?:include|require)(?:_once)?\s*\(?\s*['"`]?\s*(?:\$|/|\.\.|php://|data:|https?://|ftp://|expect://|zip://|phar://)"#,
    ),
    rule(
        "php.superglobal",
        1,
        CRITICAL,
        &[],
        r"\$_(?:get|post|cookie|request|server|files|env|session)\b|\$globals\b|\$http_raw_post_data|\$\{\s*['\x22]?_(?:get|post|request)|\$(?:\w+)\s*\(\s*\$_",
    ),
    rule(
        "php.wrapper",
        1,
        CRITICAL,
        &[],
        r"\b(?:php://(?:input|filter|fd|memory|temp|stdin|stdout|stderr|output)|phar://|zip://|compress\.(?:zlib|bzip2)://|expect://|glob://|data://text/plain|ogg://|rar://|ssh2\.(?:shell|exec|tunnel)://)",
    ),
    rule(
        "php.serialized_object",
        1,
        CRITICAL,
        &[],
        r#"(?:^|[;{])(?:o|c):\d+:"[a-z_\\][\w\\]*":\d+:\{|a:\d+:\{(?:i|s):\d+[:;]"#,
    ),
    rule(
        "php.config_directive",
        1,
        CRITICAL,
        &[],
        r"\b(?:allow_url_include|allow_url_fopen|auto_prepend_file|auto_append_file|disable_functions|open_basedir|safe_mode|register_globals|suhosin\.\w+|cgi\.force_redirect|file_uploads|enable_dl)\s*=",
    ),
    rule(
        "php.upload_name",
        1,
        CRITICAL,
        &[Part::FileName],
        r"\.\s*(?:php\d*|phtml|phar|pht|phpt|phps|pgif|inc|shtml|htaccess|user\.ini)(?:$|[.\s?%;\x22/])",
    ),
    rule(
        "php.variable_function",
        1,
        CRITICAL,
        &[],
        r#"\$\w+\s*(?:\[[^\]]{0,40}\]\s*)*\(\s*(?:'[^']*'|"[^"]*"|`[^`]*`|\$\w+\s*[\[,)]|\w+\s*\([^()]*\))|\$\w+\s*=\s*['"`]\w*(?:ass|sys|exe|eva|bas|cre)"#,
    ),
    rule(
        "php.variable",
        2,
        WARNING,
        &[],
        r"\$\w+\s*(?:\[|->|::|\()|\bnew\s+\w+\s*\(|\bfunction\s*\(\s*\$",
    ),
    rule(
        "php.alternative_tag",
        1,
        CRITICAL,
        &[],
        r"[\[{]\\?php[\]}]|<\?xml\s*:|\bsess_[a-z0-9,-]{16,}",
    ),
    Rule {
        view: View::Sql,
        ..rule(
            "php.function_call_evasion",
            1,
            CRITICAL,
            &[],
            r"\b(?:base64_(?:en|de)code|bzdecompress|bzopen|gzdecode|gzinflate|gzuncompress|gzopen|zlib_decode|zlib_encode|str_rot13|convert_uudecode|get_defined_(?:vars|functions|constants)|print_r|var_dump|var_export|debug_zval_dump|file_exists|file_get_contents|file_put_contents|is_array|is_file|is_dir|is_readable|is_writable|assert_options|assert|exec|system|passthru|shell_exec|popen|proc_open|pcntl_exec|eval|unpack|pack|strip_tags|serialize|unserialize|array_map|array_walk|array_filter|call_user_func(?:_array)?|create_function|func_get_args|forward_static_call(?:_array)?|register_(?:shutdown|tick)_function|preg_replace(?:_callback)?|mb_ereg_replace|ob_start|highlight_file|show_source|php_uname|phpinfo|phpversion|getenv|putenv|ini_get|ini_set|ini_restore|ini_alter|set_time_limit|ignore_user_abort|fopen|fread|fwrite|fputs|fgets|fgetc|file|readfile|readdir|opendir|scandir|glob|unlink|rmdir|mkdir|chmod|chown|copy|rename|symlink|link|tempnam|tmpfile|move_uploaded_file|curl_init|curl_exec|fsockopen|pfsockopen|stream_socket_client|socket_create|mail|header|setcookie|session_start|extract|parse_str|import_request_variables|compact|define|constant|get_class|class_exists|function_exists|method_exists|iterator_apply|usort|uasort|uksort|array_diff_ukey|array_udiff|hex2bin|bin2hex|chr|ord|strrev|str_replace|substr|strtolower|strtoupper|sprintf|printf|vsprintf|implode|explode|join|escapeshellarg|escapeshellcmd|dl|posix_\w+|proc_\w+|openssl_\w+|mcrypt_\w+)\s*\((?:[^()]|\([^()]*\))*\)",
        )
    },
    Rule {
        view: View::Sql,
        ..rule(
            "php.variable_call",
            1,
            CRITICAL,
            &[],
            // A variable called as a function, `$f(...)`, `$_GET[a]($_GET[b])`,
            // `${'x'}(...)`: the call's arguments must parse (nothing, a quoted string,
            // a variable or a bare word, then `,` or `)`), so a `$x(` in a random
            // password is not a call.
            r#"\$+\s*(?:[a-z_$][\w$]*|\{[^}]{0,40}\})(?:\s*[\[{][^()]{0,60}?[\]}])*\s*\(\s*(?:\)|'[^']{0,200}'\s*[,)]|"[^"]{0,200}"\s*[,)]|\$[\w$]+\s*(?:[\[{][^()]{0,60}?[\]}]\s*)*[,)]|[\w.]+\s*[,)])|\$\s*\{\s*(?:'[^']{0,60}'|"[^"]{0,60}"|\$\w+|@\w*)\s*\}|::\s*\$\w+\s*\(|[)\]'"]\s*\(\s*['"][a-z_]\w*['"]\s*\)\s*(?:;|$)|\(\s*['"`]?\s*(?:system|exec|passthru|shell_exec|eval|assert|popen|proc_open|phpinfo)\s*['"`]?\s*\)\s*\(|\[\s*(?:system|exec|passthru|shell_exec|eval|assert)\s*\]"#,
        )
    },
    rule(
        "php.ini_directive",
        1,
        CRITICAL,
        &[],
        r"\b(?:opcache|mbstring|zend|pcre|xdebug|apc|phar|mysqli|pdo_mysql|session\.(?:save|use|auto|serialize|upload))[\w.]*\s*=|\bunserialize_max_depth\s*=|\b(?:display_errors|log_errors|error_log|short_open_tag|register_argc_argv|max_execution_time|memory_limit|engine|precision|extension_dir|extension|zend_extension)\s*=",
    ),
    rule(
        "php.upload_name_in_body",
        1,
        CRITICAL,
        &[Part::Value],
        r#"\bfilename\s*=\s*["']?[^"';\r\n]*\.\s*(?:php\d*|phtml|phar|pht|phpt|phps|pgif|shtml)\b"#,
    ),
    rule(
        "php.function_name_glued",
        1,
        CRITICAL,
        &[],
        r#"(?:call_user_func(?:_array)?|gz(?:decode|inflate|uncompress|encode|deflate|compress)|shell_exec|zlib_(?:de|en)code|base64_(?:de|en)code|str_rot13|create_function|preg_replace|assert_options|file_(?:get|put)_contents|proc_open|pcntl_exec|get_defined_vars|bzdecompress)\s*=?\s*\(|\b(?:exec|system|passthru|eval|assert|shell_exec|popen)\s*(?:(?://|#)[^\n]*\n\s*)+\(|\bfile(?:group|owner|perms|inode|size|type|atime|ctime|mtime)\s*\(|['"`]\s*(?:system|exec|passthru|shell_exec|eval|assert|popen|phpinfo)\s*['"`]\s*\("#,
    ),
];
