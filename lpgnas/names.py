"""Names from an IR or a user in generated files: the one identifier rule and the escapes per language.

Two kinds of strings reach generated files:

* layer names. The IR accepts an identifier (``str.isidentifier``, at most :data:`MAX_LAYER_NAME` characters,
  no control or format characters; checked by :func:`layer_identifiers` when an IR is validated). Every
  hardware artefact of a layer is named through :func:`identifier` (ASCII, ``[A-Za-z_][A-Za-z0-9_]*``), and
  every artefact of one of its tensors (memory image file, RTL port, C++ array and type) through
  :func:`tensor_name`, so host data files, ports and the simulator's memory loading cannot disagree.
* free text: the model name, device / part names, paths. It is never pasted raw: each target language has
  its escape here (:func:`c_string`, :func:`verilog_string`, :func:`tcl_word`, :func:`comment`; JSON is
  written by ``json.dumps``). The model name must not hold control or format characters either
  (:func:`check_text`).
"""

from __future__ import annotations

import re
import unicodedata

from lpgnas.errors import IRValidationError

__all__ = [
    "MAX_LAYER_NAME", "MAX_TEXT", "check_text", "identifier", "tensor_name", "layer_identifiers",
    "c_string", "comment", "verilog_string", "tcl_word",
]

#: longest layer name: its identifier plus the longest suffix (``_recip.mem``) stays far below the 255 bytes
#: of a file name
MAX_LAYER_NAME = 64
#: longest free-text name (model name)
MAX_TEXT = 256

#: Unicode categories refused in any name: control, format (e.g. bidirectional overrides), surrogates,
#: private use, unassigned, line and paragraph separators
_REFUSED_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def check_text(value: object, field: str, max_chars: int = MAX_TEXT) -> str:
    """``value`` if it is a string of at most ``max_chars`` characters without control / format characters,
    else :class:`IRValidationError` naming ``field``."""
    if not isinstance(value, str):
        raise IRValidationError(f"{field}: expected a string, got {type(value).__name__}")
    if len(value) > max_chars:
        raise IRValidationError(f"{field}: {len(value)} characters, at most {max_chars} are allowed")
    for ch in value:
        if unicodedata.category(ch) in _REFUSED_CATEGORIES:
            raise IRValidationError(
                f"{field}: {value[:40]!r} holds the control or format character U+{ord(ch):04X}; use printable text"
            )
    return value


def identifier(name: str) -> str:
    """The ASCII C / Verilog identifier (and file-name stem) of a layer name: every character outside
    ``[A-Za-z0-9_]`` becomes ``_``, a leading digit gets the prefix ``n_``."""
    ident = re.sub(r"[^A-Za-z0-9_]", "_", str(name))
    return ident if ident and not ident[0].isdigit() else f"n_{ident}"


def tensor_name(layer_name: str, tensor: str) -> str:
    """Name of every artefact of ``layer``'s ``tensor`` (``coef``, ``recip``, ``w``, ...): memory image
    ``<name>.mem`` / ``.txt``, RTL port prefix, C++ array."""
    return f"{identifier(layer_name)}_{tensor}"


def layer_identifiers(names: list[str]) -> list[str]:
    """Check the layer names of one model and return their identifiers.

    Refused (:class:`IRValidationError` naming ``layers[i].name``): a name that is not an identifier, longer
    than :data:`MAX_LAYER_NAME`, or with control / format characters; two names that are equal, whose
    identifiers are equal ignoring case (file names clash on case-insensitive file systems), or where one
    identifier followed by ``_`` starts another (``a`` and ``a_att``: ``a``'s signal ``a_att_lin_raddr`` is
    ``a_att``'s ``a_att_lin_raddr``).
    """
    idents: list[str] = []
    for i, name in enumerate(names):
        field = f"layers[{i}].name"
        check_text(name, field, MAX_LAYER_NAME)
        if not name.isidentifier() or name in names[:i]:
            raise IRValidationError(f"{field}: {name!r} must be a unique identifier (letters, digits, _)")
        ident = identifier(name)
        for j, other in enumerate(idents):
            a, b = ident.lower(), other.lower()
            if a == b or a.startswith(b + "_") or b.startswith(a + "_"):
                raise IRValidationError(
                    f"{field}: {name!r} gives hardware names that clash with those of layers[{j}] "
                    f"({names[j]!r}): their identifiers {ident!r} and {other!r} must differ ignoring case and "
                    "neither may start with the other followed by '_'; rename one of the layers"
                )
        idents.append(ident)
    return idents


def c_string(text: str) -> str:
    """C / C++ string literal of ``text``: its UTF-8 bytes, octal-escaped outside printable ASCII and for
    ``"``, ``\\`` and ``?`` (no trigraphs under -std=c++14)."""
    out = []
    for b in str(text).encode():
        ch = chr(b)
        out.append(f"\\{b:03o}" if b < 32 or b > 126 or ch in '"\\?' else ch)
    return '"' + "".join(out) + '"'


def comment(text: str) -> str:
    """``text`` for a line comment of C++, Verilog or Tcl: the quoted :func:`c_string` form, with Tcl's and
    Verilog's special characters (``{ } [ ] $ ; ` ``) octal-escaped too; one line of printable ASCII."""
    quoted = c_string(text)
    return '"' + "".join(f"\\{ord(ch):03o}" if ch in "{}[]$;`" else ch for ch in quoted[1:-1]) + '"'


def verilog_string(text: str) -> str:
    """Verilog string literal of ``text``: UTF-8 bytes, ``\\ddd`` octal escapes outside printable ASCII and
    for ``"`` and ``\\``."""
    out = []
    for b in str(text).encode():
        ch = chr(b)
        out.append(f"\\{b:03o}" if b < 32 or b > 126 or ch in '"\\' else ch)
    return '"' + "".join(out) + '"'


_TCL_PLAIN = re.compile(r"[A-Za-z0-9_.:/+-]")


def tcl_word(text: str) -> str:
    """``text`` as one Tcl word with no substitution: printable ASCII punctuation backslash-escaped, other
    characters as ``\\uXXXX`` / ``\\UXXXXXXXX``."""
    if not text:
        return "{}"
    out = []
    for ch in str(text):
        if _TCL_PLAIN.fullmatch(ch):
            out.append(ch)
        elif 32 < ord(ch) < 127:
            out.append("\\" + ch)
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
    return "".join(out)
