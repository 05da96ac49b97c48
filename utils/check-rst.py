#!/usr/bin/env python3
"""Check the module's reStructuredText documentation with docutils: no errors, no warnings.

    python3 utils/check-rst.py [FILE.rst ...]      (default: doc/*.rst except included ones)

A malformed table, a citation without a target or a broken include renders as garbage (or not
at all) when ns-3's Sphinx build picks the module up; this catches them without Sphinx.
doc/moe-fabric.rst includes ns-3's ``replace.txt`` (which defines ``|ns3|`` in an ns-3 tree):
the check supplies an equivalent one next to a copy of doc/. Exit 0 when clean, 1 with the
messages otherwise, 2 if docutils is missing (Debian: python3-docutils).
"""
import glob
import io
import os
import shutil
import sys
import tempfile

try:
    import docutils.core
    import docutils.utils
    from docutils.parsers.rst import Directive, directives
except ImportError:
    sys.exit(print("check-rst: docutils is not installed (Debian: apt-get install python3-docutils)",
                   file=sys.stderr) or 2)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "doc")
# What ns-3's doc/models/source/replace.txt defines that this documentation uses.
REPLACE_TXT = ".. |ns3| replace:: *ns-3*\n"


class SphinxOnly(Directive):
    """A Sphinx directive plain docutils lacks and that changes nothing checked here."""
    optional_arguments = 1
    final_argument_whitespace = True
    option_spec = {"linenothreshold": directives.unchanged}
    has_content = False

    def run(self):
        return []


directives.register_directive("highlight", SphinxOnly)


def included(files):
    """Files another document pulls in with ``.. include::`` (checked as part of it)."""
    names = set()
    for path in files:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip().startswith(".. include::"):
                    names.add(line.split("::", 1)[1].strip())
    return names


def check(path, workdir):
    stream = io.StringIO()
    name = os.path.basename(path)
    copy = os.path.join(workdir, name)
    with open(copy, encoding="utf-8") as f:
        text = f.read()
    try:
        docutils.core.publish_doctree(
            text,
            source_path=copy,
            settings_overrides={"report_level": docutils.utils.Reporter.WARNING_LEVEL,
                                "halt_level": docutils.utils.Reporter.SEVERE_LEVEL + 1,
                                # Code blocks are not highlighted: without python3-pygments
                                # (only recommended by python3-docutils) docutils would warn.
                                "syntax_highlight": "none",
                                "warning_stream": stream})
    except Exception as exc:  # docutils raises on what it cannot recover from
        stream.write("%s: %s\n" % (name, exc))
    return stream.getvalue().replace(workdir + os.sep, "doc" + os.sep)


def main(argv):
    files = argv or sorted(glob.glob(os.path.join(DOC, "*.rst")))
    skip = included(files)
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        work = os.path.join(tmp, "doc")
        shutil.copytree(DOC, work)
        with open(os.path.join(work, "replace.txt"), "w", encoding="utf-8") as f:
            f.write(REPLACE_TXT)
        for path in files:
            if not os.path.exists(path):
                problems.append("%s: no such file\n" % path)
                continue
            if os.path.basename(path) in skip:
                continue
            if os.path.abspath(os.path.dirname(path)) != DOC:
                shutil.copy(path, work)
            problems.append(check(path, work))
    report = "".join(problems)
    if report:
        sys.stdout.write(report)
        return 1
    print("check-rst: %d file(s) clean" % len([f for f in files if os.path.basename(f) not in skip]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
