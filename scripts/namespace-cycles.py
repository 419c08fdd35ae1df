#!/usr/bin/env python3
"""Namespace dependencies of one project, and the cycles they form.

usage: scripts/namespace-cycles.py Repl.Actors [Repl.Host ...]

A namespace N uses M when a file in N names a type declared in M: through a `using M;`
(counted only when one of M's types appears in the file), fully qualified (`Root.M.Type`),
or qualified from the root (`M.Type` inside `Root.*`). Prints each edge, then every
strongly connected group of namespaces (a cycle) with the files that make its edges.
"""
import os, re, sys
from collections import defaultdict

def scan(project):
    root = project
    files = []
    for d, dirs, names in os.walk(project):
        dirs[:] = [x for x in dirs if x not in ("bin", "obj")]
        files += [os.path.join(d, n) for n in names if n.endswith(".cs")]
    texts = {}
    ns_of = {}
    types = defaultdict(set)
    for f in files:
        text = open(f, encoding="utf-8").read()
        # Strip comments and strings: a <see cref> is documentation, not a dependency.
        code = re.sub(r'//.*', '', text)
        code = re.sub(r'/\*.*?\*/', '', code, flags=re.S)
        code = re.sub(r'"""(.|\n)*?"""', '""', code)
        code = re.sub(r'@?"(\\.|[^"\\\n])*"', '""', code)
        m = re.search(r'^namespace\s+([\w.]+)\s*;', code, re.M)
        ns = m.group(1) if m else root
        ns_of[f] = ns
        texts[f] = code
        for t in re.findall(r'\b(?:class|struct|interface|enum|record(?:\s+struct|\s+class)?|delegate\s+\S+)\s+([A-Z]\w*)', code):
            types[ns].add(t)
    edges = defaultdict(lambda: defaultdict(set))
    for f, code in texts.items():
        ns = ns_of[f]
        idents = set(re.findall(r'\b[A-Z]\w*\b', code))
        usings = set(re.findall(r'^using\s+([\w.]+)\s*;', code, re.M))
        for other, declared in types.items():
            if other == ns:
                continue
            used = other in usings and idents & declared
            qualified = any(re.search(r'\b' + re.escape(prefix) + r'\.' + t + r'\b', code)
                            for t in declared
                            for prefix in {other, other[len(root) + 1:] if other.startswith(root + ".") else other})
            if used or qualified:
                edges[ns][other].add(os.path.relpath(f, project))
    return edges

def cycles(edges):
    nodes = set(edges) | {m for n in edges for m in edges[n]}
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    def strong(v):
        index[v] = low[v] = counter[0]; counter[0] += 1
        stack.append(v); on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                strong(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop(); on.discard(w); group.append(w)
                if w == v: break
            if len(group) > 1: out.append(sorted(group))
    for v in sorted(nodes):
        if v not in index: strong(v)
    return out

for project in sys.argv[1:]:
    edges = scan(project)
    print(f"# {project}")
    for n in sorted(edges):
        print(f"{n} -> {', '.join(sorted(edges[n]))}")
    found = cycles(edges)
    print(f"cycles: {len(found)}")
    for group in found:
        print("  " + " <-> ".join(group))
        for a in group:
            for b in group:
                if b in edges.get(a, {}):
                    print(f"    {a} -> {b}: {', '.join(sorted(edges[a][b]))}")
    print()
