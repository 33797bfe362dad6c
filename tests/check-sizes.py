#!/usr/bin/env python3
"""Holds the code to sizes a maintainer can keep in mind: no Rust source file over 600 lines and
no function over 120 lines, outside generated code and goldens. Exceptions are listed below with
their reason. Exits 1 naming every file or function over its limit.

    python3 tests/check-sizes.py [ROOT]
"""

import os
import re
import sys

MAX_FILE = 600
MAX_FN = 120

# path (relative to the root) -> why it may be longer
FILE_EXCEPTIONS = {}
# "path::function" -> why it may be longer
FN_EXCEPTIONS = {}

SKIP_DIRS = {"target", ".git", "golden", "goldens", "node_modules"}

FN_RE = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+(\w+)")


def rust_files(root):
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x not in SKIP_DIRS and not x.startswith(".")]
        for f in files:
            if f.endswith(".rs"):
                yield os.path.join(d, f)


def code_only(text):
    """`text` with comments and the contents of string, raw string and char literals blanked out
    (newlines kept), so braces in them do not count."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
            continue
        m = re.match(r'b?r(#*)"', text[i:]) if c in "rb" and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")) else None
        if m:
            end = '"' + m.group(1)
            j = text.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            out.append("\n" * text.count("\n", i, j))
            i = j
            continue
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append("\n" * text.count("\n", i, j))
            i = j
            continue
        if c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:])
            if m:
                i += m.end()
                continue
        out.append(c)
        i += 1
    return "".join(out)


def long_functions(path):
    """(name, first line, length) of every fn longer than MAX_FN lines (by brace matching)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = code_only(f.read()).split("\n")
    found = []
    for i, line in enumerate(lines):
        m = FN_RE.match(line)
        if not m:
            continue
        depth, started, j = 0, False, i
        while j < len(lines):
            s = lines[j]
            if not started and ";" in s and "{" not in s:
                break  # a declaration without a body
            depth += s.count("{") - s.count("}")
            started = started or "{" in s
            if started and depth <= 0:
                break
            j += 1
        length = j - i + 1
        if started and length > MAX_FN:
            found.append((m.group(1), i + 1, length))
    return found


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    root = os.path.abspath(root)
    problems = []
    for path in sorted(rust_files(root)):
        rel = os.path.relpath(path, root)
        with open(path, encoding="utf-8", errors="replace") as f:
            n = f.read().count("\n")
        if n > MAX_FILE and rel not in FILE_EXCEPTIONS:
            problems.append(f"{rel}: {n} lines (at most {MAX_FILE}; split it by concept)")
        for name, line, length in long_functions(path):
            if f"{rel}::{name}" not in FN_EXCEPTIONS:
                problems.append(f"{rel}:{line}: fn {name} is {length} lines (at most {MAX_FN})")
    for p in problems:
        print(p)
    if problems:
        print(f"check-sizes: {len(problems)} over the limits", file=sys.stderr)
        return 1
    print("check-sizes: every file and function within the limits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
