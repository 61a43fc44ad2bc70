"""Hostile text for the injection corpus (tests/test_hostile_outputs.py, tests/test_hostile_quiz.py):
what a student or a careless colleague can put in a layer name, a model name, an answer row,
a file name or a roster, aimed at each consumer of archcalc's outputs.

* spreadsheets: formulas and DDE (OWASP "CSV injection"), also after a tab or a CR;
* terminals: OSC (window title), CSI (clear screen), BEL, NUL, CR, a one-byte C1 CSI, bidi overrides;
* Markdown tables: ``|`` and newlines; LaTeX: its specials and a blank line;
* HTML and inline JSON: ``<!--<script>``, ``</script>``, entities, U+2028 and U+2029.
"""

from __future__ import annotations

import re

PAYLOADS = {
    "hyperlink": '=HYPERLINK("http://evil","x")',
    "plus_dde": "+cmd|' /C calc'!A0",
    "minus_formula": "-2+3+cmd|' /C calc'!A0",
    "at_sum": "@SUM(1+1)*cmd|' /C calc'!A0",
    "tab_formula": "\t=1+1",
    "cr_formula": "\r=1+1",
    "osc_title_clear": "c\x1b]0;PWN\x07\x1b[2J",
    "nul_bel_cr": "a\x00b\x07c\rd",
    "c1_csi": "x\x9b2Jy",
    "bidi_override": "safe\u202eexe",
    "pipe": "a|b|c",
    "newline": "a\nb",
    "blank_line": "a\n\nb",
    "html_comment_script": "<!--<script>",
    "close_script": "</script><script>alert(1)</script>",
    "entities": "&amp;&lt;\"'",
    "line_separators": "a\u2028b\u2029c",
    "latex": "\\end{tabular}%#_{}~^&\\\\",
}

#: what must never reach a terminal: C0 controls but newline and tab, DEL, C1, bidi controls
TERMINAL_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: the first characters a spreadsheet runs (OWASP)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?[\d,]*\.?\d+([eE][+-]?\d+)?")


def runs_in_a_spreadsheet(cell: str) -> bool:
    """True when a spreadsheet would read ``cell`` as a formula (written out from OWASP's list,
    not from archcalc's code: a plain signed number or a lone sign is data)."""
    return cell.startswith(FORMULA_STARTS) and cell not in ("-", "+") and not PLAIN_NUMBER.fullmatch(cell)


def file_name(payload: str) -> str:
    """The payload as a file name a student could choose (no ``/`` or NUL on POSIX)."""
    return payload.replace("/", "_").replace("\x00", "_")
