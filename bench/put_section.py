#!/usr/bin/env python3
"""Puts a generated section into a document: `put_section.py DOC NAME [AFTER] < SECTION`.

SECTION (standard input) runs from `<!-- NAME:begin -->` to `<!-- NAME:end -->`. It replaces
the text between those markers in DOC; when DOC has none, it goes after the line holding the
marker AFTER (if given and found), else at the end.
"""
import re
import sys


def main():
    doc, name = sys.argv[1], sys.argv[2]
    after = sys.argv[3] if len(sys.argv) > 3 else None
    section = sys.stdin.read().strip("\n")
    text = open(doc).read()
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if begin in text:
        pattern = re.escape(begin) + ".*?" + re.escape(end)
        text = re.sub(pattern, lambda m: section, text, count=1, flags=re.S)
    elif after and after in text:
        text = text.replace(after, after + "\n\n" + section, 1)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    open(doc, "w").write(text)


if __name__ == "__main__":
    main()
