"""A parser of Logstash's pipeline configuration language, so that a pipeline is read before it
is shipped (no Logstash can be run here): its grammar (``logstash-core``'s ``grammar.treetop``),

- sections ``input``, ``filter`` and ``output``, each a list of plugins and branches;
- a plugin ``name { setting => value ... }``, a value a string (double or single quoted), a
  number, a bareword (``true``, ``false``, ``json``), an array ``[a, b]``, a hash
  ``{ "key" => value ... }`` (entries separated by white space, no commas) or a plugin
  (``codec => json { ... }``);
- ``if`` / ``else if`` / ``else`` on conditions: comparisons (``== != < > <= >=``), regular
  expression matches (``=~ !~``) against ``/…/`` or a string, ``in`` and ``not in``, negation
  (``!``), parentheses and ``and`` / ``or`` / ``xor`` / ``nand``; operands are field selectors
  (``[a][b]``), strings, numbers, arrays, regular expressions and method calls;
- ``#`` comments to the end of the line.

:func:`parse` returns the pipeline as data or raises :class:`LogstashSyntaxError`, which names
the line and column where the parse stopped, as Logstash's own error does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SECTIONS = ("input", "filter", "output")
COMPARISONS = ("==", "!=", "<=", ">=", "<", ">")
MATCHES = ("=~", "!~")
BOOLEANS = ("and", "or", "xor", "nand")

_NAME = re.compile(r"[A-Za-z0-9_-]+")
_BAREWORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]+")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]*)?")
_SELECTOR_ELEMENT = re.compile(r"\[[^\]\[,]+\]")
_METHOD = re.compile(r"[A-Za-z0-9_-]+(?=\s*\()")
_BLANK = re.compile(r"(?:\s+|#[^\n]*)+")


class LogstashSyntaxError(ValueError):
    def __init__(self, message: str, line: int, column: int):
        super().__init__(f"line {line}, column {column}: {message}")
        self.line, self.column = line, column


@dataclass
class Plugin:
    name: str
    settings: list[tuple[str, Any]]
    line: int

    def get(self, name: str, default: Any = None) -> Any:
        """A setting's value (the last one, as Logstash takes it)."""
        values = [value for key, value in self.settings if key == name]
        return values[-1] if values else default


@dataclass
class Branch:
    """``if``/``else if``/``else``: each clause a condition (None for ``else``) and a body."""

    clauses: list[tuple[Any, list]]
    line: int


@dataclass
class Regexp:
    pattern: str


@dataclass
class Bareword:
    word: str


@dataclass
class Pipeline:
    sections: list[tuple[str, list]] = field(default_factory=list)

    def plugins(self, section: str | None = None) -> list[Plugin]:
        """Every plugin of the sections (all, or those of one kind), branches' included."""
        found: list[Plugin] = []
        for kind, body in self.sections:
            if section in (None, kind):
                _collect(body, found)
        return found


def _collect(body: list, found: list[Plugin]) -> None:
    for item in body:
        if isinstance(item, Plugin):
            found.append(item)
        else:
            for _condition, clause in item.clauses:
                _collect(clause, found)


def parse(text: str) -> Pipeline:
    return _Parser(text).config()


class _Parser:
    def __init__(self, text: str):
        self.text, self.pos = text, 0

    # -- positions and errors ----------------------------------------------------------------------
    def where(self, pos: int | None = None) -> tuple[int, int]:
        pos = self.pos if pos is None else pos
        line = self.text.count("\n", 0, pos) + 1
        return line, pos - (self.text.rfind("\n", 0, pos) + 1) + 1

    def error(self, expected: str) -> LogstashSyntaxError:
        found = self.text[self.pos : self.pos + 20].split("\n", 1)[0]
        seen = f"{found!r}" if found else "the end of the file"
        return LogstashSyntaxError(f"expected {expected}, found {seen}", *self.where())

    def skip(self) -> None:
        """White space and comments."""
        self.match(_BLANK)

    def peek(self, literal: str) -> bool:
        return self.text.startswith(literal, self.pos)

    def word_ahead(self, word: str) -> bool:
        """``word`` next, as a whole word."""
        end = self.pos + len(word)
        return self.peek(word) and not re.match(r"[A-Za-z0-9_-]", self.text[end : end + 1])

    def take(self, literal: str, expected: str | None = None) -> None:
        if not self.peek(literal):
            raise self.error(expected or repr(literal))
        self.pos += len(literal)

    def match(self, pattern: re.Pattern[str]) -> str | None:
        found = pattern.match(self.text, self.pos)
        if not found:
            return None
        self.pos = found.end()
        return found.group()

    # -- the file and its sections -----------------------------------------------------------------
    def config(self) -> Pipeline:
        pipeline = Pipeline()
        self.skip()
        if self.pos == len(self.text):
            raise self.error("a section (input, filter or output)")
        while self.pos < len(self.text):
            kind = self.match(_NAME)
            if kind not in SECTIONS:
                if kind:
                    self.pos -= len(kind)
                raise self.error("a section (input, filter or output)")
            self.skip()
            pipeline.sections.append((kind, self.block()))
            self.skip()
        return pipeline

    def block(self) -> list:
        """``{ (plugin | branch)* }``."""
        self.take("{")
        body: list = []
        self.skip()
        while not self.peek("}"):
            if self.pos >= len(self.text):
                raise self.error("'}'")
            body.append(self.branch() if self.word_ahead("if") else self.plugin())
            self.skip()
        self.take("}")
        return body

    def plugin(self) -> Plugin:
        line, _ = self.where()
        if self.word_ahead("else"):
            raise self.error("a plugin or 'if' ('else' without its 'if')")
        name = self.name()
        if name is None:
            raise self.error("a plugin or 'if'")
        self.skip()
        self.take("{", f"'{{' after plugin {name}")
        settings = []
        self.skip()
        while not self.peek("}"):
            key = self.name()
            if key is None:
                raise self.error(f"a setting of {name} or '}}'")
            self.skip()
            self.take("=>", f"'=>' after setting {key}")
            self.skip()
            settings.append((key, self.value()))
            self.skip()
        self.take("}")
        return Plugin(name, settings, line)

    def name(self) -> str | None:
        if self.peek('"') or self.peek("'"):
            return self.string()
        return self.match(_NAME)

    # -- values ------------------------------------------------------------------------------------
    def value(self) -> Any:
        if self.peek('"') or self.peek("'"):
            return self.string()
        if self.peek("["):
            return self.array()
        if self.peek("{"):
            return self.hash()
        number = self.match(_NUMBER)
        if number is not None:
            return float(number) if "." in number else int(number)
        start = self.pos
        word = self.match(_BAREWORD)
        if word is None:
            raise self.error("a value (string, number, bareword, array or hash)")
        after = self.pos
        self.skip()
        if self.peek("{"):  # a plugin as a value: codec => json { ... }
            self.pos = start
            return self.plugin()
        self.pos = after
        return {"true": True, "false": False}.get(word, Bareword(word))

    def string(self) -> str:
        quote = self.text[self.pos]
        pattern = re.compile(rf"{quote}((?:\\{quote}|[^{quote}])*){quote}", re.S)
        found = pattern.match(self.text, self.pos)
        if not found:
            raise self.error(f"a closing {quote}")
        self.pos = found.end()
        return found.group(1)  # as written: the pipeline does not process escapes

    def array(self) -> list:
        self.take("[")
        items: list = []
        self.skip()
        while not self.peek("]"):
            if items:
                self.take(",", "',' or ']'")
                self.skip()
            items.append(self.value())
            self.skip()
        self.take("]")
        return items

    def hash(self) -> dict:
        self.take("{")
        entries: dict = {}
        self.skip()
        while not self.peek("}"):
            if self.peek('"') or self.peek("'"):
                key: Any = self.string()
            else:
                key = self.match(_NUMBER) or self.match(_BAREWORD)
            if key is None:
                raise self.error("a hash key or '}'")
            self.skip()
            self.take("=>", f"'=>' after hash key {key}")
            self.skip()
            entries[key] = self.value()
            self.skip()
            if self.peek(","):
                raise self.error("white space between hash entries (not ',')")
        self.take("}")
        return entries

    # -- branches and conditions -------------------------------------------------------------------
    def branch(self) -> Branch:
        line, _ = self.where()
        self.pos += len("if")
        self.skip()
        clauses = [(self.condition(), self.clause_body())]
        while True:
            saved = self.pos
            self.skip()
            if not self.word_ahead("else"):
                self.pos = saved
                return Branch(clauses, line)
            self.pos += len("else")
            self.skip()
            if self.word_ahead("if"):
                self.pos += len("if")
                self.skip()
                clauses.append((self.condition(), self.clause_body()))
            else:
                clauses.append((None, self.clause_body()))
                return Branch(clauses, line)

    def clause_body(self) -> list:
        self.skip()
        if not self.peek("{"):
            raise self.error("'{' after the condition")
        return self.block()

    def condition(self) -> Any:
        """``expression (boolean_operator expression)*``, as a flat list ``[e, op, e, …]``."""
        parts = [self.expression()]
        while True:
            saved = self.pos
            self.skip()
            operator = next((op for op in BOOLEANS if self.word_ahead(op)), None)
            if operator is None:
                self.pos = saved
                return parts[0] if len(parts) == 1 else parts
            self.pos += len(operator)
            self.skip()
            parts += [operator, self.expression()]

    def expression(self) -> Any:
        if self.peek("("):
            self.pos += 1
            self.skip()
            inner = self.condition()
            self.skip()
            self.take(")", "')' or a boolean operator (and, or, xor, nand)")
            return ("group", inner)
        if self.peek("!") and not self.peek("!=") and not self.peek("!~"):
            self.pos += 1
            self.skip()
            if self.peek("("):
                return ("not", self.expression())
            selector = self.selector()
            if selector is None:
                raise self.error("a field selector or '(' after '!'")
            return ("not", selector)
        left = self.rvalue()
        saved = self.pos
        self.skip()
        return self.operation(left, saved)

    def operation(self, left: Any, saved: int) -> Any:
        """What follows an operand: a comparison, a match, ``in`` or ``not in``; or nothing."""
        for operator in (*MATCHES, *COMPARISONS):
            if self.peek(operator):
                self.pos += len(operator)
                self.skip()
                if operator in MATCHES and not (self.peek("/") or self.peek('"') or self.peek("'")):
                    raise self.error(f"a regular expression or a string after {operator}")
                return (operator, left, self.rvalue())
        if self.word_ahead("in"):
            self.pos += len("in")
            self.skip()
            return ("in", left, self.rvalue())
        if self.word_ahead("not"):
            self.pos += len("not")
            self.skip()
            if not self.word_ahead("in"):
                raise self.error("'in' after 'not'")
            self.pos += len("in")
            self.skip()
            return ("not in", left, self.rvalue())
        self.pos = saved
        return left

    def rvalue(self) -> Any:
        if self.peek('"') or self.peek("'"):
            return self.string()
        if self.peek("/"):
            found = re.compile(r"/((?:\\/|[^/])*)/").match(self.text, self.pos)
            if not found:
                raise self.error("a closing '/'")
            self.pos = found.end()
            return Regexp(found.group(1))
        selector = self.selector()
        if selector is not None:
            return selector
        if self.peek("["):
            return self.array()
        number = self.match(_NUMBER)
        if number is not None:
            return float(number) if "." in number else int(number)
        method = self.match(_METHOD)
        if method is not None:
            self.skip()
            return ("call", method, self.arguments())
        raise self.error("a field, string, number, array, regular expression or method call")

    def selector(self) -> str | None:
        start = self.pos
        while self.match(_SELECTOR_ELEMENT):
            pass
        return self.text[start : self.pos] or None

    def arguments(self) -> list:
        self.take("(")
        values: list = []
        self.skip()
        while not self.peek(")"):
            if values:
                self.take(",", "',' or ')'")
                self.skip()
            values.append(self.rvalue())
            self.skip()
        self.take(")")
        return values
