#!/usr/bin/env python3
"""No import cycle between files: the rule, and its check.

    scripts/import-cycles.py [--no-root] [SRC_DIR...]
        (default: crates/*/src src-tauri/src tests/support)

The rule: within a crate, the files' imports form no cycle. When a.rs uses b.rs, b.rs never
uses a.rs, directly or through other files, the crate root included. So:
  - the crate root (lib.rs / main.rs) only declares modules, re-exports and runs things;
    an item children use (an error enum, a helper) lives in a module of its own
    (error.rs, util.rs …) and the root re-exports it for other crates;
  - a module imports an item by its defining path (`crate::pool::FramePool`), never through
    the root's re-export (`crate::FramePool`), which would be an edge to the root.

The graph: one node per .rs file (a/mod.rs and a.rs are module `a`; lib.rs or main.rs is the
root). An edge a -> b for every `crate::…` or `super::…` path in a that names module b (the
longest module prefix of the path; a path ending in an item points at the file defining or
re-exporting it), `{…}` groups included, and for a parent's bare `child::…` paths
to a child it declares with `mod child;`. Comments and a trailing
`#[cfg(test)] mod tests { … }` are ignored (tests in a file of their own are checked).
A main.rs beside a lib.rs, and src/bin/*, are binaries over the library: they reach it by the
crate's name, never by `crate::`, so they are left out.

Prints every cycle (a strongly connected component of more than one file) with one reference
per edge in it, and exits 1 if there is any. --no-root leaves the crate roots out (to find the
cycles among the other files first).
"""

import glob
import os
import re
import sys

DEFAULT_DIRS = ["crates/*/src", "src-tauri/src", "tests/support"]

# `//` not after a `:` (so "rtmp://…" in a string is not taken for a comment).
LINE_COMMENT = re.compile(r"(?<!:)//[^\n]*")
TEST_MODULE = re.compile(r"#\[cfg\(test\)\]\s*mod\s+tests\s*\{.*", re.S)
# `crate::…` or `super::super::…`, then a path or a `{…}` group.
PATH_START = re.compile(r"\b(crate|super(?:::super)*)::")
MOD_DECL = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", re.M)


def module_files(src):
    """Module path (a tuple; () is the root) -> file, for the crate whose root is in src."""
    has_lib = os.path.exists(os.path.join(src, "lib.rs"))
    mods = {}
    for root, dirs, files in os.walk(src):
        if os.path.relpath(root, src) == ".":
            dirs[:] = [d for d in dirs if d != "bin"]
        for f in files:
            if not f.endswith(".rs"):
                continue
            p = os.path.join(root, f)
            rel = tuple(os.path.relpath(p, src)[:-3].split(os.sep))
            if rel == ("main",) and has_lib:
                continue
            if rel in (("lib",), ("main",)):
                rel = ()
            elif rel[-1] == "mod":
                rel = rel[:-1]
            mods[rel] = p
    return mods


def resolve(mods, path):
    """The module a path names: its longest prefix that is a module file."""
    for n in range(len(path), -1, -1):
        if tuple(path[:n]) in mods:
            return tuple(path[:n])
    return ()


def group_paths(text):
    """The paths in the `{…}` group text starts with (nested groups flattened, `as` renames
    and `self` dropped)."""
    paths, stack, prefix, path, renamed = [], [], [], [], False
    for m in re.finditer(r"\w+|::|[{},]", text):
        tok = m.group(0)
        if tok == "{":
            stack.append(prefix + path)
            prefix, path, renamed = stack[-1], [], False
        elif tok in (",", "}"):
            if path:
                paths.append([w for w in prefix + path if w != "self"])
            path, renamed = [], False
            if tok == "}":
                stack.pop()
                if not stack:
                    break
                prefix = stack[-1]
        elif tok == "::":
            continue
        elif path and not renamed and tok == "as":
            renamed = True
        elif not renamed:
            path.append(tok)
    return paths


def references(text):
    """(head, path) for every `crate::`/`super::` path: head is "crate" or the super count."""
    for m in PATH_START.finditer(text):
        head = "crate" if m.group(1) == "crate" else m.group(1).count("super")
        rest = text[m.end() :]
        if rest.startswith("{"):
            for path in group_paths(rest):
                yield head, path
        else:
            path = re.match(r"\w+(?:::\w+)*", rest)
            if path:
                yield head, path.group(0).split("::")


def graph(src):
    """Edges module -> {module: an example reference}."""
    mods = module_files(src)
    g = {m: {} for m in mods}
    for m, p in mods.items():
        with open(p, encoding="utf-8") as f:
            text = f.read()
        text = LINE_COMMENT.sub("", TEST_MODULE.sub("", text))
        for head, path in references(text):
            if head == "crate":
                base, shown = [], "crate::"
            else:
                base, shown = list(m[: len(m) - head]), "super::" * head
            t = resolve(mods, base + path)
            if t != m:
                g[m].setdefault(t, shown + "::".join(path))
        for child in MOD_DECL.findall(text):
            c = m + (child,)
            if c in mods and re.search(r"(?<![\w:])" + child + r"::", text):
                g[m].setdefault(c, child + "::…")
    return g


def cycles(g):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in g:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def name(m):
    return "::".join(m) or "(root)"


def main(argv):
    no_root = "--no-root" in argv
    dirs = [a for a in argv if not a.startswith("--")]
    if not dirs:
        os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
        dirs = sorted(d for pattern in DEFAULT_DIRS for d in glob.glob(pattern))
    found = 0
    for src in dirs:
        g = graph(src)
        if no_root:
            g = {k: {w: r for w, r in v.items() if w != ()} for k, v in g.items() if k != ()}
        for comp in cycles(g):
            found += 1
            print(f"{src}: {' <-> '.join(name(m) for m in comp)}")
            members = set(comp)
            for a in comp:
                for b, ref in sorted(g[a].items()):
                    if b in members:
                        print(f"    {name(a)} -> {name(b)}  ({ref})")
    print(f"import cycles: {found}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
