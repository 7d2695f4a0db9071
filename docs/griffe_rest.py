"""A griffe extension for the API pages: the reST bits of jaxnn's docstrings as Markdown.

jaxnn's docstrings are Google style (what mkdocstrings parses) with a few reStructuredText
habits inside: ``:func:`x``` roles, ``.. math::`` blocks, ``::`` literal blocks and an
``Example:`` section. mkdocstrings renders Markdown, so before it parses a docstring this
extension rewrites those:

- ``:func:`fit``` (also ``class``, ``mod``, ``meth``, ``attr``, ``data``, ``exc``, ``obj``)
  becomes an optional cross-reference: a link when the object has a page, code otherwise. A
  name without a dot is looked up in the docstring's own module first;
- ``:math:`x``` becomes code, and a ``.. math::`` block a fenced ``latex`` block (the site
  builds offline, with no MathJax, so formulas are shown as their LaTeX source);
- ``text::`` followed by an indented block becomes ``text:`` and a fenced block;
- ``Example:`` becomes ``Examples:``, the section griffe splits into prose and ``>>>`` code;
- a paragraph inside a ``Raises:`` section that names no exception is joined to the entry above.

mkdocs.yml loads it with ``extensions: [docs/griffe_rest.py:extension]``. Only the function
:func:`rest_to_markdown` is needed by the tests; griffe is imported when the extension is made,
so that pytest can import this file (it collects doctests from every module under docs/)
without the docs extra installed.
"""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

__all__ = ["extension", "rest_to_markdown"]

_ROLE = re.compile(r":(?:py:)?(func|class|mod|meth|attr|data|exc|obj|const|math):`([^`]+)`")
_TITLED = re.compile(r"^(?P<title>.+?)\s*<(?P<target>[^>]+)>$")
_MATH = re.compile(r"^(?P<indent>\s*)\.\. math::\s*(?P<first>.*)$")
_LITERAL = re.compile(r"^(?P<indent>\s*)(?P<text>.*?)(?P<space>\s?)::\s*$")
_SECTION = re.compile(r"^(?P<indent>\s*)(?P<name>[A-Z][A-Za-z ]*):\s*$")
_RAISES_ENTRY = re.compile(r"^\s*[A-Za-z_][\w.]*(\s*,\s*[A-Za-z_][\w.]*)*\s*:(\s|$)")
# Names that belong to other libraries: a role naming one of these is not looked up in jaxnn.
_EXTERNAL = ("jax", "jnp", "np", "numpy", "optax", "flax", "nnx", "keras", "matplotlib", "click")


def rest_to_markdown(text: str, *, module: str = "") -> str:
    r"""Rewrites the reST constructs of one docstring as Markdown (see the module docstring).

    Args:
        text: The docstring, cleaned (as ``inspect.cleandoc`` leaves it).
        module: The dotted path of the module the docstring belongs to, for names without a dot.

    Returns:
        The docstring in Markdown.

    Example:
        >>> print(rest_to_markdown("Calls :func:`lift`.", module="jaxnn.core"))
        Calls <autoref identifier="jaxnn.core.lift" optional><code>lift</code></autoref>.
        >>> print(rest_to_markdown("Rule :math:`f(x) = x`; see :class:`~jax.Array`."))
        Rule `f(x) = x`; see `Array`.
        >>> print(rest_to_markdown("Summary.\n\n.. math:: y = x W + b\n\nExample:\n    x"))
        Summary.
        <BLANKLINE>
        ```latex
        y = x W + b
        ```
        <BLANKLINE>
        Examples:
            x
    """
    lines = text.splitlines()
    lines = _join_raises(_literal_blocks(_math_blocks(lines)))
    lines = [_section_name(line) for line in lines]
    out = "\n".join(lines)
    out = _ROLE.sub(lambda match: _role(match, module), out)
    return out + ("\n" if text.endswith("\n") else "")


def _role(match: re.Match[str], module: str) -> str:
    kind, body = match.group(1), match.group(2).strip()
    if kind == "math":
        return f"`{body}`"
    titled = _TITLED.match(body)
    title, target = (titled["title"], titled["target"]) if titled else (body, body)
    if target.startswith("~"):
        target = target[1:]
        title = target.rsplit(".", 1)[-1]
    target = target.rstrip("()")
    if target.split(".", 1)[0] in _EXTERNAL or target.startswith("pathlib"):
        return f"`{title}`"
    if not target.startswith("jaxnn") and module:
        target = f"{module}.{target}" if "." not in target else f"jaxnn.{target}"
    if not target.startswith("jaxnn"):
        return f"`{title}`"
    return f'<autoref identifier="{target}" optional><code>{title}</code></autoref>'


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """The index after the block of lines indented deeper than ``indent`` from ``start``."""
    end = start
    while end < len(lines):
        line = lines[end]
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        end += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return end


def _fence(body: list[str], indent: str, language: str) -> list[str]:
    width = min((len(b) - len(b.lstrip()) for b in body if b.strip()), default=0)
    inner = [indent + b[width:] if b.strip() else "" for b in body]
    return ["", f"{indent}```{language}", *inner, f"{indent}```", ""]


def _math_blocks(lines: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _MATH.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        indent = match["indent"]
        end = _block_end(lines, i + 1, len(indent))
        body = [match["first"]] if match["first"] else []
        rest = lines[i + 1 : end]
        if rest:
            width = min(len(r) - len(r.lstrip()) for r in rest if r.strip())
            body += [r[width:] if r.strip() else "" for r in rest]
        if out and not out[-1].strip():
            out.pop()
        out += _fence(body, indent, "latex")
        i = end
        if i < len(lines) and not lines[i].strip():
            i += 1
    return out


def _literal_blocks(lines: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _LITERAL.match(lines[i])
        following = lines[i + 1] if i + 1 < len(lines) else "x"
        if not match or following.strip() or lines[i].lstrip().startswith(".."):
            out.append(lines[i])
            i += 1
            continue
        indent = match["indent"]
        start = i + 2
        end = _block_end(lines, start, len(indent))
        if end == start:  # no indented block follows: an ordinary line
            out.append(lines[i])
            i += 1
            continue
        if match["text"]:
            out.append(f"{indent}{match['text']}:")
        out += _fence(lines[start:end], indent, "text")
        i = end
        if i < len(lines) and not lines[i].strip():
            i += 1
    return out


def _section_name(line: str) -> str:
    match = _SECTION.match(line)
    if match and match["name"] == "Example":
        return f"{match['indent']}Examples:"
    return line


def _join_raises(lines: list[str]) -> list[str]:
    """Joins a stray paragraph of a ``Raises:`` section to the entry above it."""
    out: list[str] = []
    in_raises, entry_indent = False, None
    for line in lines:
        section = _SECTION.match(line)
        if line.strip() and not line.startswith(" "):
            in_raises, entry_indent = bool(section) and section["name"] == "Raises", None
        elif in_raises and line.strip():
            indent = len(line) - len(line.lstrip())
            if entry_indent is None:
                entry_indent = indent
            if indent == entry_indent and not _RAISES_ENTRY.match(line):
                line = " " * (entry_indent + 4) + line.strip()
                while out and not out[-1].strip():  # make it a continuation of the entry above
                    out.pop()
        out.append(line)
    return out


def extension(**options: Any) -> Any:
    """The griffe extension (griffe calls this to make it): docstrings as Markdown on load."""
    import griffe

    class RestToMarkdown(griffe.Extension):
        """Rewrites docstrings with :func:`rest_to_markdown`; finds those set at import time."""

        def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
            del kwargs
            if obj.docstring is not None and not obj.is_alias:
                obj.docstring.value = rest_to_markdown(obj.docstring.value, module=_module(obj))

        def on_module_members(self, *, mod: griffe.Module, agent: Any, **kwargs: Any) -> None:
            del kwargs
            if mod.path.split(".")[0] == "jaxnn":
                _runtime_functions(griffe, mod, agent)

    del options
    return RestToMarkdown()


def _runtime_functions(griffe: Any, mod: Any, agent: Any) -> None:
    """Turns ``Conv2D = _make(...)``, whose docstring is set at import, into a documented function.

    Reading the source, griffe sees an undocumented attribute; the imported module has a function
    with a signature and a ``__doc__``. Only public names without a docstring are looked at.
    """
    candidates = [
        member
        for name, member in mod.members.items()
        if not name.startswith("_") and not member.is_alias and member.is_attribute
        and member.docstring is None
    ]  # fmt: skip
    if not candidates:
        return
    runtime = importlib.import_module(mod.path)
    for member in candidates:
        value = getattr(runtime, member.name, None)
        if not inspect.isfunction(value) or not isinstance(value.__doc__, str):
            continue
        docstring = griffe.Docstring(
            rest_to_markdown(inspect.cleandoc(value.__doc__), module=mod.path),
            lineno=member.lineno,
            parser=agent.docstring_parser,
            parser_options=agent.docstring_options,
        )
        function = griffe.Function(
            member.name,
            lineno=member.lineno,
            endlineno=member.endlineno,
            parameters=_parameters(griffe, value),
            returns=_annotation(inspect.signature(value).return_annotation),
            docstring=docstring,
        )
        mod.set_member(member.name, function)


def _parameters(griffe: Any, function: Any) -> Any:
    kinds = {kind.value: kind for kind in griffe.ParameterKind}
    out = []
    for parameter in inspect.signature(function).parameters.values():
        default = None if parameter.default is parameter.empty else repr(parameter.default)
        out.append(
            griffe.Parameter(
                parameter.name,
                annotation=_annotation(parameter.annotation),
                kind=kinds[parameter.kind.description],
                default=default,
            )
        )
    return griffe.Parameters(*out)


def _annotation(annotation: Any) -> str | None:
    if annotation is inspect.Signature.empty:
        return None
    return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)


def _module(obj: Any) -> str:
    while obj is not None and not obj.is_module:
        obj = obj.parent
    return "" if obj is None else obj.path
