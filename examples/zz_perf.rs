use std::time::Instant;
use tower_fortify::injection::{detect_all, normalize, Source};
fn main() {
    for v in [
        "blue running shoes",
        "2024-01-01",
        "Leave it with the neighbour at number 12, thanks!",
        "abc",
        "ann@example.com",
        "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
    ] {
        let n = 20000;
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(normalize(std::hint::black_box(v), Source::Form));
        }
        let a = t.elapsed() / n;
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(detect_all(std::hint::black_box(v)));
        }
        let b = t.elapsed() / n;
        println!("{v:50} normalize {a:?} detect_all {b:?}");
    }
}
