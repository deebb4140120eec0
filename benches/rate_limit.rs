//! Placeholder until the rate_limit layer lands (replace the whole file).

fn main() {}
