#!/usr/bin/env python3
"""Random passwords and identifiers as benign requests for injection_eval (issue #12).

Fixed seeds, so every run writes the same requests:

- `password` (seed 12001): 100,000 random passwords, printable ASCII (0x20-0x7e, space
  included), length uniform in 8..32, each sent as the `password=` field of a login form:
      POST /login   username=<random user>&password=<url-encoded password>
- `identifier` (seed 12002): 100,000 random identifiers, a mix of UUIDs (v4, upper/lower,
  braced), base62 tokens (16-64), base64url tokens, hex digests, ULIDs, product codes
  (AA-0877, SKU-12-B, #A1-2234 style) and order numbers, each sent in one of: a query
  parameter, a path segment, a JSON value, a form field, a cookie value.

`family` is `password` or `identifier-<kind>`, `expect` is `benign`.

Usage: python3 scripts/random_benign.py [--passwords N] [--identifiers N] OUT.jsonl
"""
import argparse
import json
import random
import string
import urllib.parse
import uuid

PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))
B62 = string.ascii_letters + string.digits
B64URL = B62 + "-_"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
HDR = {"Host": "app.example.com", "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
       "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "Accept": "*/*", "Accept-Language": "en-US,en;q=0.9"}


def password(rng):
    return "".join(rng.choice(PRINTABLE) for _ in range(rng.randint(8, 32)))


def identifier(rng):
    kind = rng.choice(["uuid", "uuid", "base62", "base64url", "hex", "ulid", "product", "order"])
    if kind == "uuid":
        u = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        v = rng.choice([u, u.upper(), "{" + u + "}", u.replace("-", "")])
    elif kind == "base62":
        v = "".join(rng.choice(B62) for _ in range(rng.randint(16, 64)))
        v = rng.choice(["", "tok_", "sk_test_", "pk_live_", "ghp_", "xoxb-", "cus_", "pi_"]) + v
    elif kind == "base64url":
        v = "".join(rng.choice(B64URL) for _ in range(rng.randint(22, 86)))
    elif kind == "hex":
        v = "".join(rng.choice("0123456789abcdef") for _ in range(rng.choice([8, 16, 24, 32, 40, 64])))
    elif kind == "ulid":
        v = "".join(rng.choice(CROCKFORD) for _ in range(26))
    elif kind == "product":
        L = string.ascii_uppercase
        v = rng.choice([
            lambda: f"{rng.choice(L)}{rng.choice(L)}-{rng.randint(0, 9999):04d}",
            lambda: f"SKU-{rng.randint(1, 99)}-{rng.choice(L)}",
            lambda: f"#{rng.choice(L)}{rng.randint(1, 9)}-{rng.randint(0, 9999):04d}",
            lambda: f"{rng.choice(L)}{rng.choice(L)}{rng.choice(L)}-{rng.randint(100, 999)}-{rng.choice(L)}{rng.randint(0, 9)}",
            lambda: f"P/N {rng.randint(1000, 9999)}-{rng.randint(0, 99):02d}",
            lambda: f"{rng.randint(1, 999)}-{rng.choice(L)}{rng.choice(L)}-{rng.randint(1, 99)}",
        ])()
    else:
        v = rng.choice([
            lambda: f"ORD-{rng.randint(2015, 2030)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}-{rng.randint(0, 99999):05d}",
            lambda: f"{rng.randint(100, 999)}-{rng.randint(1000000, 9999999)}-{rng.randint(1000000, 9999999)}",
            lambda: f"INV-{rng.randint(2015, 2030)}-{rng.randint(0, 9999):04d}",
            lambda: f"#{rng.randint(1000, 999999)}",
            lambda: str(rng.randint(1, 10**12)),
        ])()
    return kind, v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--passwords", type=int, default=100_000)
    ap.add_argument("--identifiers", type=int, default=100_000)
    ap.add_argument("out")
    a = ap.parse_args()
    q = urllib.parse.quote
    with open(a.out, "w", encoding="utf-8") as out:
        rng = random.Random(12001)
        for i in range(a.passwords):
            pw = password(rng)
            user = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 10)))
            body = urllib.parse.urlencode({"username": user, "password": pw})
            out.write(json.dumps({"id": f"password-{i}", "family": "password", "rule_id": 0, "paranoia": 0, "expect": "benign",
                                  "method": "POST", "uri": "/login", "value": pw,
                                  "headers": dict(HDR, **{"Content-Type": "application/x-www-form-urlencoded"}), "body": body}) + "\n")
        rng = random.Random(12002)
        for i in range(a.identifiers):
            kind, v = identifier(rng)
            where = rng.choice(["query", "path", "json", "form", "cookie"])
            headers = dict(HDR)
            body = ""
            method = "GET"
            if where == "query":
                uri = "/api/items?" + urllib.parse.urlencode({rng.choice(["id", "ref", "token", "sku", "order"]): v})
            elif where == "path":
                uri = "/api/items/" + q(v, safe="")
            elif where == "json":
                method, uri = "POST", "/api/items/lookup"
                headers["Content-Type"] = "application/json"
                body = json.dumps({rng.choice(["id", "ref", "token", "sku", "orderId"]): v})
            elif where == "form":
                method, uri = "POST", "/lookup"
                headers["Content-Type"] = "application/x-www-form-urlencoded"
                body = urllib.parse.urlencode({rng.choice(["id", "ref", "token", "sku", "order"]): v})
            else:
                uri = "/account"
                headers["Cookie"] = f"{rng.choice(['sid', 'token', 'ref', 'cart'])}={q(v, safe='')}; theme=light"
            out.write(json.dumps({"id": f"identifier-{i}", "family": f"identifier-{kind}", "rule_id": 0, "paranoia": 0, "expect": "benign",
                                  "method": method, "uri": uri, "value": v, "where": where, "headers": headers, "body": body}) + "\n")


if __name__ == "__main__":
    main()
