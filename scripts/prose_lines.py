#!/usr/bin/env python3
"""Turns the Debian fortune files into benign requests for injection_eval (issue #12).

Every distinct non-empty line of /usr/share/games/fortunes/** (the `fortunes`, `fortunes-de`,
`fortunes-es`, `fortunes-it` packages; .ci/run installs them) is sent twice:

  GET  /search?q=<url-encoded line>
  POST /notes    {"note": "<line>"}           (application/json)

Skipped: the `.dat` index files, the `.u8` symlinks and any other path that resolves to a file
already read, the offensive `off/` subdirectories, and the `%` separator lines. Lines are
stripped of surrounding whitespace and de-duplicated across all files. `family` is
`prose-<lang>` (en, de, es, it, ...: the subdirectory, `en` for the top level), so the eval
table shows one row per language; `expect` is `benign`.

Usage: python3 scripts/prose_lines.py [--root DIR] OUT.jsonl
"""
import argparse
import json
import os
import sys
import urllib.parse

HEADERS = {
    "Host": "www.example.com",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-US,en;q=0.5",
}


def fortune_files(root):
    seen = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d != "off")
        for name in sorted(filenames):
            if name.endswith(".dat"):
                continue
            path = os.path.join(dirpath, name)
            real = os.path.realpath(path)
            if real in seen or not os.path.isfile(real):
                continue
            if "/off/" in real + "/":
                continue
            seen.add(real)
            rel = os.path.relpath(real, root)
            lang = rel.split(os.sep)[0] if os.sep in rel else "en"
            yield real, rel, lang


def read_text(path):
    data = open(path, "rb").read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="/usr/share/games/fortunes")
    ap.add_argument("out")
    args = ap.parse_args()
    if not os.path.isdir(args.root):
        sys.exit(f"{args.root}: not found (apt-get install fortunes fortunes-de fortunes-es fortunes-it)")
    seen_lines = set()
    n = 0
    with open(args.out, "w", encoding="utf-8") as out:
        for path, rel, lang in fortune_files(args.root):
            stem = rel.replace(os.sep, "/")
            for i, raw in enumerate(read_text(path).splitlines(), start=1):
                line = raw.strip()
                if not line or line == "%" or line in seen_lines:
                    continue
                seen_lines.add(line)
                base = {"family": f"prose-{lang}", "rule_id": 0, "paranoia": 0, "expect": "benign", "source": f"{stem}:{i}", "line": line}
                q = dict(base, id=f"prose-{stem}-{i}-q", method="GET",
                         uri="/search?q=" + urllib.parse.quote_plus(line), headers=HEADERS, body="")
                j = dict(base, id=f"prose-{stem}-{i}-j", method="POST", uri="/notes",
                         headers=dict(HEADERS, **{"Content-Type": "application/json", "Accept": "application/json"}),
                         body=json.dumps({"note": line}, ensure_ascii=False))
                out.write(json.dumps(q, ensure_ascii=False) + "\n")
                out.write(json.dumps(j, ensure_ascii=False) + "\n")
                n += 1
    print(f"{n} distinct lines, {2 * n} requests -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
