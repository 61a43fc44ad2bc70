"""Answer tables: YAML, CSV and Markdown answers read into an :class:`~archcalc.grading.answers.AnswerSheet`.

One :class:`AnswerRow` per layer (or per question) and the totals, each a
list of :class:`AnswerCell` (a quantity and the text as written); which
reader runs is decided in :mod:`archcalc.grading.reading`. Nothing is parsed
as a number here;
:mod:`archcalc.grading.values` does that when grading, so an unreadable cell
is a "not checkable" verdict rather than an error.

Column headings are read loosely (:func:`column_quantity`): ``Output shape``,
``Param #``, ``Memory (MB)``, ``Mult-Adds``, ``GFLOPs``, ``Receptive field``...
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any

from archcalc.errors import SourceLocation
from archcalc.grading.answers import META_KEYS, TOTAL_QUANTITIES, AnswerCell, AnswerError, AnswerRow, AnswerSheet

# -- column headings -----------------------------------------------------------

_HEADINGS: dict[str, str] = {}


def _words(*names: str, quantity: str) -> None:
    for name in names:
        _HEADINGS[name] = quantity


_words("layer", "name", "layer name", "layer id", "module", "node", quantity="name")
_words("question", "q", "no", "nr", "item", "#", quantity="label")
_words("type", "kind", "op", "layer type", "operation", "class", "module type", quantity="kind")
_words("layer type", "layer kind", quantity="kind")
_words("layer (type)", "layer type:depth-idx", "name (type)", quantity="name_type")
_words(
    "shape", "output shape", "output", "output size", "out shape", "output dims", "output dimensions",
    "output volume", "activation shape", "output tensor", "out", "dimensions", "size", "shape out",
    quantity="shape",
)
_words("weights", "weight", "weight params", "weights count", "num weights", "n weights", quantity="weights")
_words("biases", "bias", "bias params", "num biases", "n biases", quantity="biases")
_words(
    "params", "parameters", "param", "param #", "# params", "#params", "num params", "n params",
    "number of parameters", "learnable params", "learnable parameters", "params #", "parameter count",
    "param count", "nb params", "weights and biases",
    quantity="params",
)
_words(
    "memory", "mem", "activation memory", "activations", "activation", "output memory", "act mem",
    "activation size", "output elements", "activation elements", "memory elements", "activation bytes",
    "memory bytes", "act memory",
    quantity="memory",
)
_words(
    "macs", "mac", "mult-adds", "mult adds", "multiply-adds", "multiply adds", "madds", "mult-add",
    "multiply-accumulates", "multiply accumulates", "multiply-accumulate",
    quantity="macs",
)
_words("flops", "flop", "ops", "operations", "flop count", "floating point operations", "computations",
       quantity="flops")
_words("rf", "receptive field", "receptive field size", "rf size", "receptive", quantity="rf")
_words("trainable params", "trainable parameters", quantity="trainable_params")
_words("non-trainable params", "non trainable params", "non-trainable parameters", "frozen params",
       quantity="non_trainable_params")
_words("peak memory", "peak activation memory", "peak", "peak activations", quantity="peak_memory")
_words("param memory", "params size", "parameter memory", "params memory", "weights memory", "model size",
       "parameter size", quantity="param_memory")
_words("input memory", "input size", quantity="input_memory")
_words("forward/backward pass size", "pass memory", "forward backward pass size", quantity="pass_memory")
_words("estimated total size", "total memory", "total size", quantity="total_memory")

# French, German and Spanish headings (read without accents: "paramètres" is "parametres")
_words("couche", "nom", "nom de la couche", "schicht", "ebene", "name der schicht", "capa", "nombre",
       "nombre de la capa", quantity="name")
_words("type de couche", "typ", "schichttyp", "art", "tipo", "tipo de capa", quantity="kind")
_words(
    "sortie", "forme", "forme de sortie", "taille de sortie", "dimensions de sortie", "dimension de sortie",
    "taille", "ausgabe", "form", "ausgabeform", "ausgangsform", "ausgabegrosse", "grosse", "salida", "forma",
    "forma de salida", "tamano de salida", "dimensiones", "dimensiones de salida",
    quantity="shape",
)
_words("poids", "gewichte", "pesos", quantity="weights")
_words("biais", "sesgos", "sesgo", quantity="biases")
_words(
    "parametres", "nb parametres", "nombre de parametres", "nb de parametres", "parameter", "anzahl parameter",
    "parametros", "numero de parametros", "n de parametros", quantity="params",
)
_words("memoire", "memoire des activations", "speicher", "speicherbedarf", "memoria", "memoria de activaciones",
       quantity="memory")
_words("nombre d'operations", "operationen", "rechenoperationen", "operaciones", "numero de operaciones",
       quantity="flops")
_words("champ recepteur", "champ receptif", "rezeptives feld", "campo receptivo", quantity="rf")

#: a unit in a heading: ``Memory (MB)``, ``FLOPs [M]``, ``memory in KiB``
_HEADING_UNIT = re.compile(r"\s*(?:[(\[]\s*([^)\]]*?)\s*[)\]]|\bin\s+(\w+))\s*$")
#: prefixes glued to a heading: ``GFLOPs``, ``MMACs``, ``KParams``
_GLUED_PREFIX = re.compile(r"^(k|m|g|t)(flops|macs|params|ops)$")
_UNIT_WORDS = {"elements", "element", "floats", "values", "count", "bytes", "b", "byte", "k", "m", "g", "t",
               "kb", "mb", "gb", "tb", "kib", "mib", "gib", "tib", "thousands", "millions", "billions",
               "o", "octets", "ko", "mo", "go", "kio", "mio", "gio"}


def without_accents(text: str) -> str:
    """``paramètres`` -> ``parametres``, ``Größe`` -> ``grosse`` (headings are matched without accents)."""
    import unicodedata

    text = text.replace("ß", "ss")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def column_quantity(heading: str) -> tuple[str | None, str, str | None]:
    """A column heading -> (quantity, unit, convention named in it).

    ``"Memory (MB)"`` -> ``("memory", "MB", None)``; ``"GFLOPs"`` -> ``("flops", "G", None)``;
    ``"FLOPs [textbook]"`` -> ``("flops", "", "textbook")``; unknown -> ``(None, "", None)``.
    """
    from archcalc.conventions import PRESETS

    raw = re.sub(r"\s+", " ", re.sub(r"[*`]", "", without_accents(str(heading))).replace("_", " ")).strip()
    text = raw.replace("’", "'").lower()
    if text in _HEADINGS:
        return _HEADINGS[text], "", None
    unit = ""
    convention = None
    match = _HEADING_UNIT.search(raw)
    if match and match.start() > 0:
        raw_inside = (match.group(1) or match.group(2) or "").strip()
        inside = raw_inside.lower()
        text = text[: match.start()].strip()
        if inside.split("+")[0].split("-")[0] in PRESETS:
            convention = inside
        elif inside in _UNIT_WORDS:
            unit = raw_inside
        elif inside in ("type", "type:depth-idx", "type (var_name)"):
            return "name_type", "", None
    glued = _GLUED_PREFIX.match(text.replace(" ", ""))
    if glued:
        unit = glued.group(1).upper()
        text = glued.group(2)
    if text in _HEADINGS:
        quantity = _HEADINGS[text]
        if quantity == "label":
            return "label", "", None
        return quantity, unit, convention
    for suffix in (" (elements)", " elements", " (bytes)", " bytes", " count"):
        if text.endswith(suffix) and text[: -len(suffix)] in _HEADINGS:
            return _HEADINGS[text[: -len(suffix)]], suffix.strip(" ()"), convention
    return None, "", None


def split_name_type(text: str) -> tuple[str | None, str | None]:
    """``conv2d_1 (Conv2D)`` -> (``conv2d_1``, ``Conv2D``); ``Conv2d: 1-1`` -> (None, ``Conv2d``)."""
    text = text.strip()
    match = re.fullmatch(r"(?P<name>[^\s()]+)\s*\((?P<kind>[^()]*)\)?", text)
    if match:
        return match["name"], match["kind"].strip() or None
    match = re.fullmatch(r"(?P<kind>[A-Za-z][\w.]*)\s*:\s*\d+(?:-\d+)?", text)
    if match:
        return None, match["kind"]
    return (text or None), None


# -- declared conventions and metadata -------------------------------------------

_DECLARED = (
    (re.compile(r"2\s*[x×*]\s*macs?\s*\+\s*bias|textbook|bias adds? (?:is|=) 1 flop"), "textbook"),
    (re.compile(r"\bfvcore\b"), "fvcore"),
    (re.compile(r"torchinfo"), "macs+bias"),
    (re.compile(r"\b(?:py)?torch|flop_?counter"), "torch"),
    (re.compile(r"\bexact\b|n\s*mul\w*\s*\+\s*\(?n\s*-\s*1\)?\s*add"), "exact"),
    (re.compile(r"2\s*[x×*]\s*macs?|\bflops\b|2 flops per mac|1 mac = 2 flops"), "flops"),
    (re.compile(r"\bmacs?\b|mult-?adds?|multiply[- ]accumulates?|madds"), "macs"),
)


def declared_convention(text: str) -> str | None:
    """A convention as a file declares it: a preset name (``flops``, ``macs+bias``) or words
    (``FLOPs = 2 x MACs + bias``, ``mult-adds``). None when not recognised."""
    from archcalc.conventions import PRESETS

    cleaned = re.sub(r"[*_`\"']", "", text).strip().lower()
    if re.fullmatch(r"[a-z]+(?:[+-][a-z]+)*", cleaned) and re.split(r"[+-]", cleaned)[0] in PRESETS:
        return cleaned
    for pattern, name in _DECLARED:
        if pattern.search(cleaned):
            return name
    head = cleaned.split()[0] if cleaned.split() else ""
    return head if head in PRESETS else None


def _meta_value(key: str, value: Any, line: int | None, source: str) -> Any:
    if key == "batch":
        try:
            return int(str(value).strip())
        except ValueError:
            raise AnswerError(f"batch must be a whole number, got {value!r}",
                              location=SourceLocation(source, line)) from None
    return str(value).strip()


def _sheet_meta(found: dict[str, tuple[Any, int | None]], source: str) -> dict[str, Any]:
    """Declared ``model``, ``input``, ``convention``, ``batch``, ``dtype`` -> AnswerSheet fields."""
    meta: dict[str, Any] = {}
    for key, (value, line) in found.items():
        if value is None or str(value).strip() == "":
            continue
        if key == "convention":
            name = declared_convention(str(value))
            if name is None:
                raise AnswerError(
                    f"unknown convention {str(value).strip()!r}",
                    location=SourceLocation(source, line),
                    hint="use a preset name: macs, flops, exact, textbook, fvcore, torch "
                    "(switches as in macs+bias)",
                )
            meta["convention"] = name
            meta["convention_line"] = line
        else:
            meta[key] = _meta_value(key, value, line, source)
    return meta


# -- building rows from a table ----------------------------------------------------


def _is_total(text: str | None) -> bool:
    if not text:
        return False
    cleaned = without_accents(re.sub(r"[*_`:]", "", text)).strip().lower()
    return cleaned in ("total", "totals", "sum", "overall", "all", "network", "whole network", "total (network)",
                       "somme", "reseau", "gesamt", "summe", "insgesamt", "netz", "totales", "suma", "red")


def _cell_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "x".join(str(v) for v in value)
    return "" if value is None else str(value).strip()


@dataclass
class _Table:
    """Rows of a table as (line, {heading: text}), and its headings in order."""

    headings: list[str]
    records: list[tuple[int | None, dict[str, Any]]]


def _rows_from_table(table: _Table, source: str) -> tuple[list[AnswerRow], list[AnswerCell], list[str], str | None]:
    """Answer rows and total cells of a table; headings nobody understood; a convention named in a heading."""
    columns: dict[str, tuple[str | None, str, str | None]] = {h: column_quantity(h) for h in table.headings}
    ignored = [h for h, (q, _, _) in columns.items() if q is None and str(h).strip()]
    convention = next((c for q, _, c in columns.values() if c), None)
    rows: list[AnswerRow] = []
    totals: list[AnswerCell] = []
    for line, record in table.records:
        name = kind = label = None
        cells: list[AnswerCell] = []
        for heading, value in record.items():
            quantity, unit, _ = columns.get(heading) or column_quantity(heading)
            text = _cell_text(value)
            if quantity is None:
                continue
            if quantity == "name":
                name = text or None
            elif quantity == "kind":
                kind = text or None
            elif quantity == "label":
                label = text or None
            elif quantity == "name_type":
                name, kind = split_name_type(text)
            elif text:
                cells.append(AnswerCell(quantity, text, unit, line))
        if _is_total(name) or _is_total(label) or (name is None and _is_total(kind)):
            totals.extend(cells)
            continue
        if not cells and name is None and kind is None:
            continue
        shown = " ".join(p for p in (label, name, f"({kind})" if kind and name else kind) if p)
        rows.append(AnswerRow(shown or f"row {len(rows) + 1}", name, kind, tuple(cells), line))
    return rows, totals, ignored, convention


# -- YAML -------------------------------------------------------------------------

_ROW_KEYS = ("layers", "rows", "answers", "questions", "table", "answer")
_TOTAL_KEYS = ("totals", "total", "network")


def read_yaml(text: str, source: str) -> AnswerSheet:
    """An answers YAML: optional ``model``, ``input``, ``convention``, ``batch``, ``dtype``;
    a list of rows under ``layers`` (or ``rows``, ``answers``, ``questions``); ``totals``."""
    from archcalc.errors import SpecError
    from archcalc.spec.loader import parse_yaml

    try:
        doc = parse_yaml(text, source)
    except SpecError as error:
        raise AnswerError(error.message, location=error.location) from None
    if isinstance(doc, list):
        doc_rows, doc_totals, meta_doc = doc, None, {}
    elif isinstance(doc, dict):
        key = next((k for k in _ROW_KEYS if k in doc), None)
        doc_rows = doc.get(key) if key else []
        total_key = next((k for k in _TOTAL_KEYS if k in doc), None)
        doc_totals = doc.get(total_key) if total_key else None
        meta_doc = doc
        known = set(_ROW_KEYS) | set(_TOTAL_KEYS) | set(META_KEYS) | {"name", "description", "source", "student", "notes"}
        extra = [k for k in doc if k not in known]
        if extra and not doc_rows and doc_totals is None:
            # a flat mapping of answers: ``params: 760``
            doc_rows, meta_doc = [], doc
            doc_totals = {k: v for k, v in doc.items() if k not in META_KEYS}
    else:
        raise AnswerError("the answers file is neither a YAML mapping nor a list of rows, nor a recognised "
                          "summary (Keras, torchsummary, torchinfo) or table (CSV, Markdown)",
                          location=SourceLocation(source, None))
    if doc_rows is None:
        doc_rows = []
    if not isinstance(doc_rows, list):
        raise AnswerError("the layer answers must be a list of mappings (one per layer)",
                          location=SourceLocation(source, getattr(doc_rows, "line", None)))
    found = {k: (meta_doc.get(k), getattr(meta_doc, "line", None)) for k in META_KEYS if k in meta_doc}
    headings: list[str] = []
    records: list[tuple[int | None, dict[str, Any]]] = []
    for item in doc_rows:
        if not isinstance(item, dict):
            raise AnswerError(f"a layer answer must be a mapping (name: ..., params: ...), got {item!r}",
                              location=SourceLocation(source, getattr(doc_rows, "line", None)))
        for key in item:
            if key not in headings:
                headings.append(str(key))
        records.append((getattr(item, "line", None), {str(k): v for k, v in item.items()}))
    rows, totals, ignored, named = _rows_from_table(_Table(headings, records), source)
    if doc_totals is not None:
        if not isinstance(doc_totals, dict):
            raise AnswerError("totals must be a mapping (params: ..., flops: ...)",
                              location=SourceLocation(source, getattr(doc_totals, "line", None)))
        line = getattr(doc_totals, "line", None)
        for key, value in doc_totals.items():
            quantity, unit, conv = column_quantity(str(key))
            if quantity in TOTAL_QUANTITIES and _cell_text(value):
                totals.append(AnswerCell(quantity, _cell_text(value), unit, line))
                named = named or conv
            elif quantity is None:
                ignored.append(str(key))
    meta = _sheet_meta(found, source)
    if named and "convention" not in meta:
        meta["convention"] = declared_convention(named)
    return AnswerSheet(source, "yaml", tuple(rows), tuple(totals), ignored_columns=tuple(ignored), **meta)


# -- CSV --------------------------------------------------------------------------

_META_LINE = re.compile(
    r"^[\s#>*_`-]*(?P<key>model|input|convention|batch|dtype|mod[eè]le|modell|modelo|entr[ée]e|eingabe|entrada|"
    r"konvention|convenci[oó]n|lot|lote)[*_`\s]*[:=][*_`\s]*(?P<value>.+?)[*_`\s]*$",
    re.IGNORECASE,
)
#: metadata keys in French, German and Spanish
_META_WORDS = {"modele": "model", "modell": "model", "modelo": "model", "entree": "input", "eingabe": "input",
               "entrada": "input", "konvention": "convention", "convencion": "convention", "lot": "batch",
               "lote": "batch"}


def meta_key(match: re.Match) -> str:
    """The metadata key of a ``model: ...`` line, in English (``modèle`` -> ``model``)."""
    key = without_accents(match["key"]).lower()
    return _META_WORDS.get(key, key)


def read_csv(text: str, source: str) -> AnswerSheet:
    """A CSV table: a heading row, one row per layer, a row named ``total``; ``# convention: flops``
    comment lines declare metadata."""
    found: dict[str, tuple[Any, int | None]] = {}
    body: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            match = _META_LINE.match(line)
            if match:
                found[meta_key(match)] = (match["value"], number)
            continue
        if line.strip():
            body.append((number, line))
    if not body:
        raise AnswerError("the CSV file has no heading row", location=SourceLocation(source, None))
    try:
        dialect = csv.Sniffer().sniff(body[0][1], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO("\n".join(line for _, line in body)), delimiter=delimiter)
    try:
        parsed = list(reader)
    except csv.Error as error:  # a field past the csv module's limit (128 KiB), a NUL byte, ...
        raise AnswerError(f"cannot read the CSV: {error}", location=SourceLocation(source, None)) from None
    headings = [h.strip() for h in parsed[0]]
    records = []
    for (number, _), values in zip(body[1:], parsed[1:]):
        if len(values) > len(headings):
            raise AnswerError(
                f"this row has {len(values)} cells and the heading {len(headings)} "
                "(quote numbers written with commas: \"1,728\")",
                location=SourceLocation(source, number),
            )
        records.append((number, dict(zip(headings, values))))
    rows, totals, ignored, named = _rows_from_table(_Table(headings, records), source)
    meta = _sheet_meta(found, source)
    if named and "convention" not in meta:
        meta["convention"] = declared_convention(named)
    return AnswerSheet(source, "csv", tuple(rows), tuple(totals), ignored_columns=tuple(ignored), **meta)


# -- Markdown ---------------------------------------------------------------------

_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def _md_cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner.removeprefix("|")
    if inner.endswith("|") and not inner.endswith("\\|"):
        inner = inner[:-1]
    return [re.sub(r"\\([*_`\\|])", r"\1", c.strip()) for c in re.split(r"(?<!\\)\|", inner)]


def read_markdown(text: str, source: str) -> AnswerSheet:
    """Every pipe table of a Markdown file, graded together (a sheet's second question is a
    second table); a table without a column archcalc grades is skipped, and the sheet's notes
    say which and why. ``Convention: ...`` lines outside the tables declare metadata."""
    found: dict[str, tuple[Any, int | None]] = {}
    lines = text.splitlines()
    tables: list[tuple[int, _Table]] = []
    in_table = False
    for index, line in enumerate(lines):
        number = index + 1
        is_row = line.strip().startswith("|")
        if is_row:
            if not in_table:
                following = lines[index + 1] if index + 1 < len(lines) else ""
                if _SEPARATOR.match(following.strip()):
                    tables.append((number, _Table(_md_cells(line), [])))
                    in_table = True
                continue
            if _SEPARATOR.match(line.strip()):
                continue
            table = tables[-1][1]
            table.records.append((number, dict(zip(table.headings, _md_cells(line)))))
            continue
        in_table = False
        match = _META_LINE.match(line)
        if match:
            found[meta_key(match)] = (match["value"], number)
    if not tables:
        raise AnswerError("no Markdown table found (a heading row | a | b | and a separator | --- | --- |)",
                          location=SourceLocation(source, None))
    rows: list[AnswerRow] = []
    totals: list[AnswerCell] = []
    ignored: list[str] = []
    notes: list[str] = []
    named = None
    for number, table in tables:
        graded = [h for h in table.headings if column_quantity(h)[0] in TOTAL_QUANTITIES]
        if not graded and len(tables) > 1:
            shown = ", ".join(h for h in table.headings if h.strip()) or "none"
            notes.append(f"the table at line {number} was skipped: no column archcalc grades (headings: {shown})")
            continue
        table_rows, table_totals, table_ignored, table_named = _rows_from_table(table, source)
        rows += table_rows
        totals += table_totals
        ignored += [h for h in table_ignored if h not in ignored]
        named = named or table_named
    if len(tables) > 1:
        notes.insert(0, f"{len(tables)} tables in the file; " + (
            "all were graded" if not notes else f"{len(tables) - len(notes)} graded"))
    meta = _sheet_meta(found, source)
    if named and "convention" not in meta:
        meta["convention"] = declared_convention(named)
    return AnswerSheet(source, "md", tuple(rows), tuple(totals), ignored_columns=tuple(ignored),
                       notes=tuple(notes), **meta)


# -- LaTeX ------------------------------------------------------------------------

_TABULAR = re.compile(
    r"\\begin\{(?P<env>tabular\*?|tabularx|longtable|array)\}(?:\{[^{}]*\})?\s*"
    r"\{(?:[^{}]|\{[^{}]*\})*\}(?P<body>.*?)\\end\{(?P=env)\}",
    re.S,
)
#: rules and spacing between rows (booktabs and plain LaTeX)
_LATEX_RULES = re.compile(
    r"\\(?:toprule|midrule|bottomrule|hline|addlinespace|endhead|endfirsthead|endfoot|endlastfoot)(?:\[[^]]*\])?"
    r"|\\(?:cline|cmidrule)(?:\([^)]*\))?\{[^}]*\}"
)
#: commands whose argument is the text: ``\textbf{conv1}`` -> ``conv1``
_LATEX_TEXT = re.compile(r"\\(?:textbf|textit|emph|texttt|textrm|mathrm|mathbf|text|num|underline|mbox)\{([^{}]*)\}")
_LATEX_SPACES = re.compile(r"\\[,;:! ]|~")


def latex_cell(text: str) -> str:
    """A tabular cell as plain text: ``$28\\times28\\times6$`` -> ``28x28x6``; ``117\\,600`` ->
    ``117 600`` (a thin space); ``0{,}42`` -> ``0,42``; ``\\SI{18.4}{KB}`` -> ``18.4 KB``."""
    text = re.sub(r"\\multicolumn\{[^{}]*\}\{[^{}]*\}\{((?:[^{}]|\{[^{}]*\})*)\}", r"\1", text)
    text = re.sub(r"\\(?:SI|qty)\{([^{}]*)\}\{([^{}]*)\}", r"\1 \2", text)
    for _ in range(3):
        text = _LATEX_TEXT.sub(r"\1", text)
    text = text.replace("{,}", ",").replace("$", "")
    text = re.sub(r"\s*\\times\s*", "x", text)
    text = re.sub(r"\s*\\cdot\s*", "*", text)
    text = _LATEX_SPACES.sub("\u2009", text)
    text = re.sub(r"\\([%&_#])", r"\1", text)
    text = re.sub(r"\\[A-Za-z]+\s*", "", text).replace("{", "").replace("}", "")
    return re.sub(r"\s+", " ", text).strip()


def _latex_rows(body: str, first_line: int) -> list[tuple[int, list[str]]]:
    """The rows of a tabular body, with the line each starts on; rules and empty rows dropped."""
    body = re.sub(r"(?<!\\)%[^\n]*", "", body)  # comments, keeping the line breaks
    rows = []
    position = 0
    for chunk in re.split(r"(\\\\(?:\[[^]]*\])?)", body):
        chunk_line = first_line + body.count("\n", 0, position)
        position += len(chunk)
        if chunk.startswith("\\\\"):
            continue
        lines = chunk.split("\n")
        text_lines = [i for i, line in enumerate(lines) if _LATEX_RULES.sub("", line).strip()]
        if not text_lines:
            continue
        cleaned = _LATEX_RULES.sub("", chunk).strip()
        rows.append((chunk_line + text_lines[0], [latex_cell(cell) for cell in re.split(r"(?<!\\)&", cleaned)]))
    return rows


def read_latex(text: str, source: str) -> AnswerSheet:
    r"""Every ``tabular`` of a LaTeX file (booktabs rules, ``\\`` row ends, ``\,`` thin spaces,
    ``$28\times28\times6$``), graded together as the tables of a Markdown file; a tabular with
    no column archcalc grades is skipped and said. ``% convention: flops`` comments and
    ``Convention: ...`` lines declare metadata. A tabular's first row is its heading."""
    matches = list(_TABULAR.finditer(text))
    if not matches:
        raise AnswerError("no LaTeX table found (\\begin{tabular}{...} ... \\end{tabular})",
                          location=SourceLocation(source, None))
    found: dict[str, tuple[Any, int | None]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        meta = _META_LINE.match(line.lstrip().lstrip("%"))
        if meta:
            found[meta_key(meta)] = (latex_cell(meta["value"]), number)
    answer_rows: list[AnswerRow] = []
    totals: list[AnswerCell] = []
    ignored: list[str] = []
    notes: list[str] = []
    named = None
    for match in matches:
        first_line = text.count("\n", 0, match.start("body")) + 1
        rows = _latex_rows(match["body"], first_line)
        if not rows:
            continue
        (_, headings), records = rows[0], rows[1:]
        if len(matches) > 1 and not any(column_quantity(h)[0] in TOTAL_QUANTITIES for h in headings):
            shown = ", ".join(h for h in headings if h.strip()) or "none"
            notes.append(f"the table at line {first_line} was skipped: no column archcalc grades (headings: {shown})")
            continue
        table = _Table(headings, [(line, dict(zip(headings, values))) for line, values in records])
        table_rows, table_totals, table_ignored, table_named = _rows_from_table(table, source)
        answer_rows += table_rows
        totals += table_totals
        ignored += [h for h in table_ignored if h not in ignored]
        named = named or table_named
    if not answer_rows and not totals:
        raise AnswerError("the LaTeX table has no rows", location=SourceLocation(source, None))
    if len(matches) > 1:
        notes.insert(0, f"{len(matches)} tables in the file; " + (
            "all were graded" if not notes else f"{len(matches) - len(notes)} graded"))
    meta = _sheet_meta(found, source)
    if named and "convention" not in meta:
        meta["convention"] = declared_convention(named)
    return AnswerSheet(source, "latex", tuple(answer_rows), tuple(totals), ignored_columns=tuple(ignored),
                       notes=tuple(notes), **meta)
