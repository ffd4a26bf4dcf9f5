#!/usr/bin/env python3
"""Check the rules that keep libkpf's layers honest (run by ctest through
scripts/check_layers.sh; usage: check_layers.py [SOURCE_DIR]).

Each rule prints one line per offence, `file:line: problem (fix)`, and the
script exits 1 if any rule was broken, 0 otherwise.

1. The core never names a plugin.  A plugin name (the folders of plugins/,
   and rnn, gru, lrnn, hh, ltr in any case) may not appear as a word inside
   a string literal of a C file (.c, .h, .h.in) or a quoted string of a
   CMakeLists.txt under core/.  "A word": delimited by characters other than
   letters, digits and '_', so "rnn", "rnn.so", "plugin: rnn" and
   "%s/rnn" count while "%hhu" and "lrnn_x" do not ("lrnn" itself does).
   Comments may mention plugins (they explain, they do not select), and so
   may identifiers (the core has none named after a plugin; the build would
   not link one).  Exempt: core/<layer>/tests/.  Those suites need a real
   model to drive the operators, spectra and training they test, and they
   load it exactly as a user's config does, by name through the public
   loader; they are executables linked against libkpf.so, not part of it,
   so the library still never knows which plugin it runs.
2. No file(GLOB ...) in a core CMakeLists.txt: each layer lists its files.
3. Every .c file in a layer folder is listed in that layer's CMakeLists.txt:
   files under tests/ in kpf_layer's TESTS, the others in its SOURCES or in
   a target_sources(kpf_<layer> ...) (per-architecture units).  Every listed
   file exists.  Every folder of core/ (but include/) is a layer.
4. No #include with a relative path that climbs ("../"), anywhere in the
   source tree: a file reaches another folder's header through the include
   directories its target is given, which is what makes layering enforceable.
5. KPF_LAYERS in core/CMakeLists.txt and each layer's BELOW form one chain:
   the first layer has no BELOW, every other names the layer just before it
   in KPF_LAYERS, and each core/<layer>/CMakeLists.txt declares
   kpf_layer(<layer> ...) exactly once.
"""
import os
import re
import sys

FIXED_PLUGINS = {"rnn", "gru", "lrnn", "hh", "ltr"}
C_EXTS = (".c", ".h", ".h.in")

problems = []


def report(path, line, msg):
    problems.append(f"{path}:{line}: {msg}")


def rel(root, path):
    return os.path.relpath(path, root)


# ---- C and CMake lexing ------------------------------------------------------

def c_strings(text):
    """(line, content) of every string literal in C text; comments, character
    constants and the header names of #include <...> are skipped."""
    out, i, line, n = [], 0, 1, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 2 if text[i] == "\\" and i + 1 < n else 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            line += text.count("\n", i, end)
            i = end
        elif c in "\"'":
            j, buf = i + 1, []
            while j < n and text[j] != c and text[j] != "\n":
                if text[j] == "\\" and j + 1 < n:
                    buf.append(text[j:j + 2])
                    line += text[j + 1] == "\n"
                    j += 2
                else:
                    buf.append(text[j])
                    j += 1
            if c == '"':
                out.append((line, "".join(buf)))
            i = j + 1
        else:
            i += 1
    return out


def cmake_strip_comments(text):
    """CMake text with # comments blanked (quoted strings and line numbers kept)."""
    lines = []
    for ln in text.split("\n"):
        quoted, cut = False, len(ln)
        for k, ch in enumerate(ln):
            if ch == '"' and (k == 0 or ln[k - 1] != "\\"):
                quoted = not quoted
            elif ch == "#" and not quoted:
                cut = k
                break
        lines.append(ln[:cut])
    return "\n".join(lines)


def cmake_calls(text, name):
    """(line, [args]) of every call `name(...)` in comment-free CMake text."""
    calls = []
    for m in re.finditer(r"\b%s\s*\(" % re.escape(name), text, re.IGNORECASE):
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            j += 1
        body = text[m.end():j - 1]
        args = [a.strip('"') for a in re.findall(r'"[^"]*"|[^\s"]+', body)]
        calls.append((text.count("\n", 0, m.start()) + 1, args))
    return calls


def keyword_lists(args, keywords):
    """cmake_parse_arguments-style split: {KEYWORD: [values]} and the leading
    positional values under None."""
    out, cur = {None: []}, None
    for a in args:
        if a in keywords:
            cur = a
            out.setdefault(cur, [])
        else:
            out[cur].append(a)
    return out


# ---- rules -------------------------------------------------------------------

def plugin_names(root):
    names = set(FIXED_PLUGINS)
    pdir = os.path.join(root, "plugins")
    if os.path.isdir(pdir):
        names |= {d for d in os.listdir(pdir) if os.path.isdir(os.path.join(pdir, d))}
    return names


def check_no_plugin_names(root, core):
    names = plugin_names(root)
    word = re.compile(r"(?<![A-Za-z0-9_])(%s)(?![A-Za-z0-9_])" % "|".join(sorted(names)),
                      re.IGNORECASE)
    for dirpath, dirs, files in os.walk(core):
        dirs[:] = [d for d in dirs
                   if not (d == "tests" and os.path.dirname(dirpath) == core)]
        for f in sorted(files):
            path = os.path.join(dirpath, f)
            if f.endswith(C_EXTS):
                with open(path, encoding="utf-8", errors="replace") as fh:
                    strings = c_strings(fh.read())
            elif f == "CMakeLists.txt" or f.endswith(".cmake"):
                with open(path, encoding="utf-8", errors="replace") as fh:
                    text = cmake_strip_comments(fh.read())
                strings = [(text.count("\n", 0, m.start()) + 1, m.group(1))
                           for m in re.finditer(r'"([^"]*)"', text)]
            else:
                continue
            for line, s in strings:
                m = word.search(s)
                if m:
                    report(rel(root, path), line,
                           f'string "{s}" names the plugin "{m.group(1)}": the core never '
                           "names a plugin (select it from config, or move the code to "
                           "plugins/ or studies/)")


def layer_cmake(core, layer):
    path = os.path.join(core, layer, "CMakeLists.txt")
    if not os.path.isfile(path):
        return path, None
    with open(path, encoding="utf-8") as fh:
        return path, cmake_strip_comments(fh.read())


def check_layer_files(root, core, layers):
    """Rules 2, 3 and 5; returns nothing, reports offences."""
    top = os.path.join(core, "CMakeLists.txt")
    for d in sorted(os.listdir(core)):
        if os.path.isdir(os.path.join(core, d)) and d != "include" and d not in layers:
            report(rel(root, top), 1,
                   f"core/{d}/ is not in KPF_LAYERS: add it to the list (in order) or move it")
    for dirpath, _, files in os.walk(core):
        if "CMakeLists.txt" in files:
            path = os.path.join(dirpath, "CMakeLists.txt")
            with open(path, encoding="utf-8") as fh:
                text = cmake_strip_comments(fh.read())
            for m in re.finditer(r"\bfile\s*\(\s*GLOB", text, re.IGNORECASE):
                report(rel(root, path), text.count("\n", 0, m.start()) + 1,
                       "file(GLOB ...) in a core CMakeLists.txt: list the layer's files "
                       "explicitly")
    for i, layer in enumerate(layers):
        path, text = layer_cmake(core, layer)
        if text is None:
            report(rel(root, top), 1, f"layer '{layer}' has no core/{layer}/CMakeLists.txt")
            continue
        calls = cmake_calls(text, "kpf_layer")
        if len(calls) != 1:
            report(rel(root, path), 1,
                   f"{len(calls)} kpf_layer() calls: a layer folder declares exactly one")
            continue
        line, args = calls[0]
        kw = keyword_lists(args, {"BELOW", "SOURCES", "TESTS"})
        name = kw[None][0] if kw[None] else ""
        if name != layer:
            report(rel(root, path), line,
                   f"kpf_layer({name} ...) in core/{layer}/: the layer is named after its folder")
        below = kw.get("BELOW", [])
        want = layers[i - 1] if i else None
        if (below[0] if below else None) != want:
            report(rel(root, path), line,
                   f"BELOW {below[0] if below else '(none)'}: KPF_LAYERS puts "
                   f"{want or 'nothing'} directly below '{layer}' (one chain, in list order)")
        sources = set(kw.get("SOURCES", []))
        for _, targs in cmake_calls(text, "target_sources"):
            if targs and targs[0] == f"kpf_{layer}":
                sources |= {a for a in targs[1:] if a.endswith(".c")}
        tests = set(kw.get("TESTS", []))
        ldir = os.path.join(core, layer)
        for f in sorted(sources | tests):
            if not os.path.isfile(os.path.join(ldir, f)):
                report(rel(root, path), line, f"lists {f}, which does not exist")
        for dirpath, _, files in os.walk(ldir):
            for f in sorted(files):
                if not f.endswith(".c"):
                    continue
                r = os.path.relpath(os.path.join(dirpath, f), ldir)
                in_tests = r.split(os.sep)[0] == "tests"
                if in_tests and r not in tests:
                    report(rel(root, path), line,
                           f"{r} is not in TESTS: list it (an unlisted suite never runs)")
                elif not in_tests and r not in sources:
                    report(rel(root, path), line,
                           f"{r} is not in SOURCES: list it, or delete the file")


def read_layers(root, core):
    top = os.path.join(core, "CMakeLists.txt")
    with open(top, encoding="utf-8") as fh:
        text = cmake_strip_comments(fh.read())
    for line, args in cmake_calls(text, "set"):
        if args and args[0] == "KPF_LAYERS":
            return args[1:]
    report(rel(root, top), 1, "no set(KPF_LAYERS ...): the layer order must be listed")
    return []


def source_files(root):
    """C files of the source tree, skipping build trees and hidden folders."""
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs
                         if not d.startswith((".", "build"))
                         and not os.path.isfile(os.path.join(dirpath, d, "CMakeCache.txt")))
        for f in sorted(files):
            if f.endswith(C_EXTS):
                yield os.path.join(dirpath, f)


def check_relative_includes(root):
    inc = re.compile(r'^\s*#\s*include\s*[<"]([^>"]*)[>"]')
    for path in source_files(root):
        with open(path, encoding="utf-8", errors="replace") as fh:
            for n, ln in enumerate(fh, 1):
                m = inc.match(ln)
                if m and ("../" in m.group(1) or m.group(1).startswith("..")):
                    report(rel(root, path), n,
                           f'#include "{m.group(1)}" climbs out of its folder: include '
                           "by the name its target's include directories give it")


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), ".."))
    core = os.path.join(root, "core")
    layers = read_layers(root, core)
    check_no_plugin_names(root, core)
    check_layer_files(root, core, layers)
    check_relative_includes(root)
    for p in problems:
        print(p)
    if problems:
        print(f"check_layers: {len(problems)} problem(s)")
        return 1
    print(f"check_layers: ok ({len(layers)} layers: {' < '.join(layers)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
