//! Java attacks: JNDI/Log4Shell lookups (with the nested and case-changing forms used to
//! evade simple matches), expression-language and OGNL injection, deserialisation
//! payloads and the class names they reach for.

use crate::event::Category;

use super::{Rule, View, CRITICAL, WARNING};

const fn rule(name: &'static str, paranoia: u8, score: u16, pattern: &'static str) -> Rule {
    Rule {
        name,
        category: Category::JavaInjection,
        paranoia,
        score,
        view: View::Text,
        parts: &[],
        pattern,
    }
}

pub(crate) static RULES: &[Rule] = &[
    rule(
        "java.jndi_lookup",
        1,
        CRITICAL,
        r"\$\{[^}]{0,200}?(?:j[^a-z}]{0,40}n[^a-z}]{0,40}d[^a-z}]{0,40}i|\$\{|:-|(?:lower|upper|env|sys|date|ctx|main|bundle|k8s|docker|log4j|spring|web|jvmrunargs|sd|marker|map|event|java|base64)\s*:)",
    ),
    rule(
        "java.jndi_scheme",
        1,
        CRITICAL,
        r"\bjndi\s*:\s*(?:ldaps?|rmi|dns|iiop|corba|nds|nis|https?)\b|\b(?:ldaps?|rmi|iiop)://[^\s/]+/",
    ),
    rule(
        "java.class_abuse",
        1,
        CRITICAL,
        r"(?:\bjava\.(?:lang\.(?:runtime|processbuilder|process|system|class|classloader|reflect|thread|object)|io\.(?:file|objectinputstream)|net\.(?:url|socket)|beans\.)|\bjavax\.(?:script|naming|management)|\bruntime\s*\.\s*getruntime\s*\(|\.getruntime\s*\(\s*\)\s*\.\s*exec|\bnew\s+java\.|\bprocessbuilder\s*\(|\.forname\s*\(|\.getclass\s*\(\s*\)\s*\.|\.getmethod\s*\(|\.invoke\s*\(|\bclass\.module\.classloader|\bclass\.classloader|\.classloader\.|\bscriptengine(?:manager)?\b|\borg\.apache\.(?:commons\.collections|xalan|bcel|tomcat\.dbcp|catalina)|\bcom\.sun\.(?:rowset|org\.apache|jndi)|\bsun\.misc\.|\bysoserial\b|\bjdk\.jshell|\bxwork\.|\bcom\.opensymphony\.|\bognl(?:context)?\b|#_memberaccess|@java\.lang|\bgroovy\.lang|\bjavassist\b|\bbsh\.interpreter|\bclojure\.(?:core|main))",
    ),
    rule(
        "java.serialized_object",
        1,
        CRITICAL,
        r"(?:\bro0ab[a-z0-9+/]{0,8}|\baced0005|\bh4siaaaaaaaa|\bt[0-9a-z+/]{0,4}rhbmcue|\bjava\.util\.(?:hashmap|priorityqueue|hashset)\b.{0,200}\b(?:transformer|invoker|templatesimpl)|\btemplatesimpl\b|\binvokertransformer\b|\bchainedtransformer\b|<java\s+version|<object\s+class\s*=\s*['\x22]java\.)",
    ),
    rule(
        "java.expression_language",
        1,
        CRITICAL,
        r"(?:[$#%]\{[^}]{0,200}?(?:\bt\s*\(\s*java|getclass|runtime|processbuilder|\.exec\s*\(|#context|#request|#response|#session|#application|#_memberaccess|@ognl|new\s+java|classloader|\bsystem\.|getproperty|forname)|%\{\s*#|\$\{\s*#|\$\{\s*(?:request|session|application|param|header|cookie|initparam|pagecontext|facescontext)\s*[.\[]\w*\s*(?:\.|\())",
    ),
    rule(
        "java.class_name",
        2,
        WARNING,
        r"\b(?:java|javax|sun|com\.sun|org\.apache|org\.springframework|jdk)\.[a-z]+\.[a-z]+",
    ),
    rule(
        "java.gadget_class",
        1,
        CRITICAL,
        r"\bjava\.(?:runtime|processbuilder|lang)\b|\bprocessbuilder\b|\b(?:clonetransformer|forclosure|instantiatefactory|instantiatetransformer|invokertransformer|prototypeclonefactory|prototypeserializationfactory|whileclosure|constanttransformer|lazymap|annotationinvocationhandler|badattributevalueexpexception|xmldecoder|objectinputstream|beancomparator|comparablecomparator)\b",
    ),
    rule(
        "java.core_class",
        1,
        CRITICAL,
        r"\bjavax?\.(?:io|util|lang|net|nio|beans|rmi|security|sql|naming|script|management|xml|crypto)\.[a-z]\w*",
    ),
];
