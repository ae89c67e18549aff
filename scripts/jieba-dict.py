#!/usr/bin/env python3
"""Writes src/recall/jieba_dict.txt from jieba-rs's dictionary.

csep segments Chinese with jieba-rs's dictionary, but keeps its own copy of it: one
`word freq` line per word (the part-of-speech tags are dropped, csep never tags), sorted by
the words' UTF-8 bytes, so that a query's few words are found by binary search without
loading all 349,046 entries. Usage:

    scripts/jieba-dict.py ~/.cargo/registry/src/*/jieba-rs-0.11.0/src/data/dict.txt

Run it again only when the jieba-rs version changes, and update DICT_TOTAL in
src/recall/jieba_dict.rs (the tests check both).
"""
import pathlib
import sys

source = pathlib.Path(sys.argv[1])
entries = {}
for line in source.read_text(encoding="utf-8").splitlines():
    parts = line.split()
    if not parts:
        continue
    word, freq = parts[0], int(parts[1]) if len(parts) > 1 else 0
    if word in entries:
        sys.exit(f"duplicate word {word!r}: the copy would not equal jieba's own load")
    entries[word] = freq
lines = sorted(f"{w} {f}\n".encode() for w, f in entries.items())
out = pathlib.Path(__file__).resolve().parent.parent / "src/recall/jieba_dict.txt"
out.write_bytes(b"".join(lines))
print(f"{len(lines)} words, total frequency {sum(entries.values())}, -> {out}")
