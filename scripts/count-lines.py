#!/usr/bin/env python3
"""Non-blank lines of product code: `crates/*/src/**/*.rs` without the test-only crates,
test files and `#[cfg(test)]` items. Usage: scripts/count-lines.py [N] (N: the largest files)."""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'crates')
TEST_ONLY = {'conformance', 'devservers', 'testkit', 'dataapi-server'}
MOD_DECL = re.compile(r'\s*(pub(\(\w+\))?\s+)?mod\s+(\w+)\s*;')


def product_lines(path, lines, test_files):
    """The lines of `path` outside `#[cfg(test)]` items; test modules' files go to `test_files`."""
    out, i = [], 0
    folder = os.path.dirname(path)
    stem = os.path.splitext(os.path.basename(path))[0]
    while i < len(lines):
        if not lines[i].strip().startswith('#[cfg(test)]'):
            out.append(lines[i])
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].strip().startswith('#['):
            j += 1
        decl = MOD_DECL.match(lines[j]) if j < len(lines) else None
        if decl:
            sub = folder if stem in ('mod', 'lib', 'main') else os.path.join(folder, stem)
            name = decl.group(3)
            test_files.add(os.path.normpath(os.path.join(sub, name + '.rs')))
            test_files.add(os.path.normpath(os.path.join(sub, name, 'mod.rs')))
            i = j + 1
            continue
        depth, opened, k = 0, False, j
        while k < len(lines):
            depth += lines[k].count('{') - lines[k].count('}')
            opened = opened or '{' in lines[k]
            if (opened and depth <= 0) or (not opened and lines[k].rstrip().endswith(';')):
                break
            k += 1
        i = k + 1
    return out


def main():
    files = []
    for crate in sorted(os.listdir(ROOT)):
        if crate in TEST_ONLY:
            continue
        for folder, _, names in os.walk(os.path.join(ROOT, crate, 'src')):
            files += [os.path.normpath(os.path.join(folder, n)) for n in names if n.endswith('.rs')]
    test_files, kept = set(), {}
    for path in files:
        with open(path, encoding='utf-8') as f:
            kept[path] = product_lines(path, f.read().split('\n'), test_files)
    per_file = [
        (sum(1 for line in kept[p] if line.strip()), p)
        for p in files
        if p not in test_files and os.path.basename(p) != 'tests.rs' and '/tests/' not in p
    ]
    print('total', sum(n for n, _ in per_file))
    root = os.path.normpath(ROOT) + '/'
    for n, path in sorted(per_file, reverse=True)[: int(sys.argv[1]) if len(sys.argv) > 1 else 0]:
        print(n, path.replace(root, ''))


if __name__ == '__main__':
    main()
