#!/usr/bin/env python3
"""check_links.py - every relative link of the documentation resolves.

Reads README.md, CHANGELOG.md and docs/**/*.md under ROOT (default: this repository) and checks
every Markdown link and image outside code: a relative path must name a file or folder that
exists, and an #anchor must be a heading of the target Markdown file (or of the same file),
with GitHub's heading anchors (lower case, punctuation dropped, spaces as hyphens, -1, -2, ...
for repeats). Links to web addresses are not followed. A code fence left open is an error
too, since it hides every link and heading after it.

    /usr/bin/python3 tools/check_links.py [ROOT]

Prints one line per broken link (file:line: link: why) and exits 1 if there is any, else prints
how many links it checked and exits 0. tests/cli/test_docs_cli runs it.
"""
import os
import re
import sys

LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def slug(text):
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link's text stays
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def lines_outside_fences(path):
    """(line number, text) of each line outside fenced code blocks."""
    fence = None
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            m = FENCE.match(line)
            if m:
                if fence is None:
                    fence = m.group(1)
                elif m.group(1) == fence:
                    fence = None
                continue
            if fence is None:
                yield number, line


def lines_outside_code(path):
    """(line number, text) of each line outside fenced code, with code spans blanked."""
    for number, line in lines_outside_fences(path):
        yield number, CODE_SPAN.sub(lambda s: " " * len(s.group(0)), line)


_anchors = {}


def heading_anchors(path):
    """Anchors of every heading, code spans read as text (GitHub keeps their words)."""
    if path in _anchors:
        return _anchors[path]
    seen, found = {}, set()
    for _, line in lines_outside_fences(path):
        for name in HTML_ANCHOR.findall(line):
            found.add(name)
        h = HEADING.match(line)
        if not h:
            continue
        base = slug(h.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else "%s-%d" % (base, n))
    _anchors[path] = found
    return found


def documents(root):
    paths = [os.path.join(root, name) for name in ("README.md", "CHANGELOG.md")]
    for folder, dirs, files in os.walk(os.path.join(root, "docs")):
        dirs.sort()
        paths += [os.path.join(folder, f) for f in sorted(files) if f.endswith(".md")]
    return [p for p in paths if os.path.isfile(p)]


def paragraphs(path):
    """(first line number, text) of each run of non-blank lines outside code, so that a link
    whose text wraps onto the next line is read whole."""
    block, start, last = [], 0, 0
    for number, line in lines_outside_code(path):
        if not line.strip() or number != last + 1:
            if block:
                yield start, "".join(block)
            block, start = [], number
        if line.strip():
            if not block:
                start = number
            block.append(line)
        last = number
    if block:
        yield start, "".join(block)


def unclosed_fence(path):
    """The line of a code fence that is never closed, or None."""
    fence, opened = None, None
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            m = FENCE.match(line)
            if m and fence is None:
                fence, opened = m.group(1), number
            elif m and m.group(1) == fence:
                fence = None
    return opened if fence is not None else None


def check(path, root):
    problems, count = [], 0
    opened = unclosed_fence(path)
    if opened:
        problems.append((opened, "```", "code fence never closed (the rest of the file is code)"))
    for start, text in paragraphs(path):
        for m in LINK.finditer(text):
            target = m.group(1)
            number = start + text.count("\n", 0, m.start())
            if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                continue  # empty, or a web address, mailto:, ...
            count += 1
            where, _, anchor = target.partition("#")
            full = os.path.normpath(os.path.join(os.path.dirname(path), where)) if where else path
            if not os.path.exists(full):
                problems.append((number, target, "no such file: %s" % os.path.relpath(full, root)))
                continue
            if anchor and full.endswith(".md") and anchor not in heading_anchors(full):
                problems.append((number, target, "no heading #%s in %s" %
                                 (anchor, os.path.relpath(full, root))))
    return problems, count


def main(argv):
    root = os.path.abspath(argv[1] if len(argv) > 1 else
                           os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    paths = documents(root)
    if not paths:
        print("check_links.py: no README.md, CHANGELOG.md or docs/*.md under %s" % root)
        return 2
    broken, total = 0, 0
    for path in paths:
        problems, count = check(path, root)
        total += count
        for number, target, why in problems:
            print("%s:%d: %s: %s" % (os.path.relpath(path, root), number, target, why))
        broken += len(problems)
    if broken:
        print("check_links.py: %d broken link(s) of %d in %d file(s)" % (broken, total, len(paths)))
        return 1
    print("check_links.py: %d link(s) in %d file(s), all resolve" % (total, len(paths)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
