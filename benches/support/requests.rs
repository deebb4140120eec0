//! Realistic request fixtures shared by the benches (`#[path]`-included by
//! `benches/injection.rs` and `benches/stack.rs`): many distinct requests generated with
//! a fixed seed, so that no cache of the code under test flatters a figure.
//!
//! Three kinds: a simple browser GET (typical header set, cookies, 0-2 query parameters),
//! a GET with 10 query parameters, and a JSON POST of about 4 KiB; and [`client_addr`],
//! the peer addresses of [`CLIENTS`] distinct clients for the layers that key on them.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request};
use rand::{rngs::StdRng, seq::IndexedRandom, Rng, SeedableRng};

/// How many distinct requests of each kind are generated.
pub(crate) const DISTINCT: usize = 512;

/// How many distinct client addresses [`client_addr`] rotates over.
pub(crate) const CLIENTS: usize = 10_000;

/// The peer address of client `k % CLIENTS`: three in four IPv4 (spread over a few
/// provider /16s), one in four IPv6 (each in its own /64), ephemeral source ports.
pub(crate) fn client_addr(k: usize) -> SocketAddr {
    let k = k % CLIENTS;
    let port = 32_768 + (k * 7919 % 28_000) as u16;
    let ip = if k % 4 == 3 {
        IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0x0db8,
            (k >> 8) as u16,
            (k & 0xff) as u16,
            0,
            0,
            0,
            1 + (k % 7) as u16,
        ))
    } else {
        const NETS: [[u8; 2]; 4] = [[81, 2], [93, 184], [151, 101], [203, 0]];
        let [a, b] = NETS[k % NETS.len()];
        IpAddr::V4(Ipv4Addr::new(a, b, (k >> 8) as u8, k as u8))
    };
    SocketAddr::new(ip, port)
}

/// One request, kept as parts so a fresh `Request` can be built per iteration.
#[derive(Clone, Debug)]
pub(crate) struct Fixture {
    pub(crate) method: Method,
    pub(crate) uri: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Fixture {
    /// A fresh request with body type `B`.
    pub(crate) fn request<B: From<Bytes>>(&self) -> Request<B> {
        let mut req = Request::new(B::from(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.parse().expect("fixture uri");
        *req.headers_mut() = self.headers.clone();
        req
    }
}

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 16_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
];

const LANGS: &[&str] = &[
    "en-US,en;q=0.9",
    "de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7",
    "fr-FR,fr;q=0.9,en;q=0.8",
    "es-ES,es;q=0.9",
    "ja,en-US;q=0.9,en;q=0.8",
    "pt-BR,pt;q=0.9,en-US;q=0.8,en;q=0.7",
];

const WORDS: &[&str] = &[
    "shoes",
    "running",
    "blue",
    "jacket",
    "winter",
    "kids",
    "leather",
    "wallet",
    "garden",
    "chair",
    "lamp",
    "coffee",
    "grinder",
    "yoga",
    "mat",
    "tent",
    "camping",
    "phone",
    "case",
    "headphones",
    "wireless",
    "desk",
    "oak",
    "sofa",
    "green",
    "red",
    "linen",
    "shirt",
    "socks",
    "Zürich",
    "café",
    "naïve",
    "straße",
    "東京",
    "guitar",
    "piano",
    "book",
    "mystery",
    "novel",
];

const SECTIONS: &[&str] = &[
    "products", "category", "search", "account", "orders", "blog", "help", "cart", "brands",
];

fn hex(rng: &mut StdRng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
        .collect()
}

fn b64url(rng: &mut StdRng, n: usize) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..n)
        .map(|_| char::from(A[rng.random_range(0..64)]))
        .collect()
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%20", "+")
}

fn browser_headers(rng: &mut StdRng, host: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    let mut put = |k: &'static str, v: String| {
        h.insert(
            HeaderName::from_static(k),
            HeaderValue::from_str(&v).expect("header value"),
        );
    };
    let ua = *USER_AGENTS.choose(rng).unwrap();
    put("host", host.to_owned());
    put("user-agent", ua.to_owned());
    put(
        "accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
            .to_owned(),
    );
    put("accept-language", (*LANGS.choose(rng).unwrap()).to_owned());
    put("accept-encoding", "gzip, deflate, br, zstd".to_owned());
    if ua.contains("Chrome") {
        let v = &ua[ua.find("Chrome/").unwrap() + 7..];
        let major = &v[..v.find('.').unwrap()];
        put(
            "sec-ch-ua",
            format!("\"Google Chrome\";v=\"{major}\", \"Chromium\";v=\"{major}\", \"Not_A Brand\";v=\"24\""),
        );
        put(
            "sec-ch-ua-mobile",
            if ua.contains("Mobile") { "?1" } else { "?0" }.to_owned(),
        );
        put("sec-ch-ua-platform", "\"Windows\"".to_owned());
    }
    put("sec-fetch-dest", "document".to_owned());
    put("sec-fetch-mode", "navigate".to_owned());
    put("sec-fetch-site", "same-origin".to_owned());
    put("upgrade-insecure-requests", "1".to_owned());
    if rng.random_bool(0.7) {
        let section = SECTIONS.choose(rng).unwrap();
        put(
            "referer",
            format!("https://{host}/{section}/{}", rng.random_range(1..5000)),
        );
    }
    let mut cookie = format!(
        "session={}; theme={}",
        hex(rng, 32),
        ["light", "dark"][rng.random_range(0..2)]
    );
    if rng.random_bool(0.5) {
        cookie.push_str(&format!(
            "; _ga=GA1.2.{}.{}",
            rng.random_range(100_000_000..999_999_999u32),
            rng.random_range(1_600_000_000..1_700_000_000u32)
        ));
    }
    if rng.random_bool(0.3) {
        cookie.push_str(&format!("; cart_id={}", b64url(rng, 22)));
    }
    put("cookie", cookie);
    h
}

fn path(rng: &mut StdRng) -> String {
    let section = SECTIONS.choose(rng).unwrap();
    match rng.random_range(0..3) {
        0 => format!("/{section}/{}", rng.random_range(1..100_000)),
        1 => format!(
            "/{section}/{}-{}",
            WORDS.choose(rng).unwrap().to_ascii_lowercase(),
            rng.random_range(1..999)
        ),
        _ => format!("/{section}"),
    }
    .chars()
    .filter(char::is_ascii)
    .collect()
}

/// Simple browser GETs: a page with 0-2 query parameters and a full browser header set.
pub(crate) fn simple_gets() -> Vec<Fixture> {
    let mut rng = StdRng::seed_from_u64(0x5eed_0001);
    (0..DISTINCT)
        .map(|_| {
            let mut uri = path(&mut rng);
            let n = rng.random_range(0..3);
            for i in 0..n {
                uri.push(if i == 0 { '?' } else { '&' });
                match rng.random_range(0..3) {
                    0 => uri.push_str(&format!("page={}", rng.random_range(1..50))),
                    1 => uri.push_str(&format!(
                        "q={}",
                        enc(&format!(
                            "{} {}",
                            WORDS.choose(&mut rng).unwrap(),
                            WORDS.choose(&mut rng).unwrap()
                        ))
                    )),
                    _ => uri.push_str(&format!(
                        "utm_source={}",
                        ["newsletter", "google", "facebook"][rng.random_range(0..3)]
                    )),
                }
            }
            Fixture {
                method: Method::GET,
                uri,
                headers: browser_headers(&mut rng, "shop.example.com"),
                body: Bytes::new(),
            }
        })
        .collect()
}

/// GETs with 10 query parameters (a search page with filters), browser headers.
pub(crate) fn gets_10_params() -> Vec<Fixture> {
    let mut rng = StdRng::seed_from_u64(0x5eed_0010);
    (0..DISTINCT)
        .map(|_| {
            let colors = ["SlateBlue", "black", "white", "red", "olive", "navy"];
            let sorts = ["price_asc", "price_desc", "newest", "rating"];
            let y = rng.random_range(2020..2026);
            let params = [
                format!("category={}", enc(WORDS.choose(&mut rng).unwrap())),
                format!("min_price={}", rng.random_range(0..100)),
                format!("max_price={}", rng.random_range(100..2000)),
                format!("color={}", colors.choose(&mut rng).unwrap()),
                format!(
                    "brand={}",
                    enc(&format!("{} & Sons", WORDS.choose(&mut rng).unwrap()))
                ),
                format!("in_stock={}", rng.random_bool(0.5)),
                format!(
                    "from={y}-{:02}-{:02}",
                    rng.random_range(1..13),
                    rng.random_range(1..29)
                ),
                format!("to={}-12-31", y),
                format!("page={}", rng.random_range(1..40)),
                format!("sort={}", sorts.choose(&mut rng).unwrap()),
            ];
            Fixture {
                method: Method::GET,
                uri: format!("/products?{}", params.join("&")),
                headers: browser_headers(&mut rng, "shop.example.com"),
                body: Bytes::new(),
            }
        })
        .collect()
}

/// JSON POSTs of about 4 KiB (an order with items and notes).
pub(crate) fn json_posts_4k() -> Vec<Fixture> {
    let mut rng = StdRng::seed_from_u64(0x5eed_0404);
    let notes = [
        "Leave it with the neighbour at number {n}, thanks!",
        "Please ring twice; the bell at {n} is quiet.",
        "Gift wrap if possible, it's for Ann's birthday.",
        "Deliver after 5 pm (office closes at {n}:30).",
        "Fragile: glassware inside, box {n} of 3.",
    ];
    (0..DISTINCT)
        .map(|k| {
            let mut items = Vec::new();
            let mut i = 0;
            let body = loop {
                let note = notes.choose(&mut rng).unwrap().replace("{n}", &rng.random_range(1..99).to_string());
                items.push(serde_json::json!({
                    "sku": format!("QW-{:04}", rng.random_range(0..10_000)),
                    "name": format!("{} {}", WORDS.choose(&mut rng).unwrap(), WORDS.choose(&mut rng).unwrap()),
                    "qty": rng.random_range(1..6),
                    "price": (rng.random_range(100..100_000) as f64) / 100.0,
                    "note": note,
                }));
                let customer = ["Ann O'Neil", "Jürgen Groß", "Mei Chen", "Ola Nordmann"][k % 4];
                let doc = serde_json::json!({
                    "customer": {
                        "name": customer,
                        "email": format!("user{}@example.com", rng.random_range(1..100_000)),
                        "phone": format!("+41 44 {} {}", rng.random_range(100..999), rng.random_range(1000..9999)),
                    },
                    "shipping": {"street": format!("{} Main Street", rng.random_range(1..300)), "city": "Springfield", "zip": format!("{:05}", rng.random_range(1000..99999))},
                    "items": items,
                    "coupon": if rng.random_bool(0.3) { Some(b64url(&mut rng, 10)) } else { None },
                });
                let s = doc.to_string();
                if s.len() >= 4096 || i > 60 {
                    break s;
                }
                i += 1;
            };
            let mut headers = browser_headers(&mut rng, "shop.example.com");
            headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert(http::header::ACCEPT, HeaderValue::from_static("application/json"));
            Fixture {
                method: Method::POST,
                uri: "/api/v1/orders".to_owned(),
                headers,
                body: Bytes::from(body),
            }
        })
        .collect()
}
