#!/usr/bin/env python3
"""The manual page keeps up with the binary: every option `xendm --help` lists must appear in
docs/xendm.1 (as roff writes it, with \\- for each dash). TAP, one point per option.

    check-manpage.py XENDM MANPAGE
"""
import re
import subprocess
import sys


def help_options(xendm):
    out = subprocess.run([xendm, '--help'], capture_output=True, text=True, check=True).stdout
    options = []
    for line in out.splitlines():
        # "  -smp N[,maxcpus=M] vCPUs", "  -h, --help ...": the leading option words.
        m = re.match(r'^  (-[\w-]+(?:, --?[\w-]+)*)', line)
        if m:
            options += [o.strip() for o in m.group(1).split(',')]
    return options


def main(argv):
    xendm, manpage = argv[1], argv[2]
    text = open(manpage, encoding='utf-8').read().replace('\\-', '-')
    options = help_options(xendm)
    print(f'1..{len(options) + 1}')
    print(('ok' if len(options) >= 20 else 'not ok') +
          f' 1 - xendm --help lists {len(options)} options')
    failed = 0
    for n, opt in enumerate(options, start=2):
        # As a word of its own: "-m" must not be found inside "-machine".
        if re.search(r'(?<![\w-])' + re.escape(opt) + r'(?![\w-])', text):
            print(f'ok {n} - {opt} is in the manual page')
        else:
            failed += 1
            print(f'not ok {n} - {opt} is missing from {manpage}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
