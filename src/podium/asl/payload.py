"""Payload templates of JSONPath states: Parameters, ResultSelector, ItemSelector, Assign.

API:
    compile_template(obj, field="Parameters") -> Template
        Compiles a payload template once. In any object, a key ending in `.$` takes a path
        (`$.x` state input, `$$.x` context object, `$x` workflow variable) or an intrinsic
        function (`States.Format(...)`); the `.$` is dropped from the output key. Every other
        value, including strings that look like paths, is copied as is. Nested objects and
        arrays are walked. Bad paths / intrinsics / a non-string `.$` value raise
        podium.errors.ValidationError naming the key (`field` prefixes the location).
    Template.render(data, context=None, variables=None) -> Any
        Builds the payload. A path that matches nothing raises AslRuntimeError(States.Runtime,
        "The JSONPath '<path>' specified for the field '<key>.$' could not be found in the
        input '<json>'"); intrinsic failures propagate as AslRuntimeError.
    Template.is_static: True when nothing needs evaluating (render returns the constant).
    Template.references_context: True when some path or intrinsic reads `$$`.

Rendered payloads share unchanged sub-objects with the template and with `data`: callers
treat documents as immutable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from podium.asl.intrinsics import Intrinsic, compile_intrinsic, is_intrinsic
from podium.asl.jsonpath import JsonPath, compile_path
from podium.errors import ValidationError

__all__ = ["Template", "compile_template"]

_Render = Callable[[Any, Any, Any], Any]


def _path_renderer(path: JsonPath, key: str) -> _Render:
    name = path.single_member
    if name is not None:
        # The most common shape, `"x.$": "$.field"`, without the generic walk.

        def render_member(data: Any, context: Any, variables: Any) -> Any:
            # A str key on anything but a dict raises TypeError (lists, strings, numbers).
            try:
                return data[name]
            except (KeyError, TypeError):
                return path.select_for_field(key, data, context, variables)

        return render_member

    def render_path(data: Any, context: Any, variables: Any) -> Any:
        return path.select_for_field(key, data, context, variables)

    return render_path


def _intrinsic_renderer(intrinsic: Intrinsic) -> _Render:
    def render_intrinsic(data: Any, context: Any, variables: Any) -> Any:
        return intrinsic.evaluate(data, context, variables)

    return render_intrinsic


class _Compiler:
    def __init__(self) -> None:
        self.uses_context = False

    def compile(self, obj: Any, where: str) -> tuple[Any, _Render | None]:
        """Returns (constant, None) for static parts or (None, renderer) for dynamic ones."""
        if isinstance(obj, dict):
            return self.compile_object(obj, where)
        if isinstance(obj, list):
            parts = [self.compile(item, f"{where}/{i}") for i, item in enumerate(obj)]
            if all(r is None for _, r in parts):
                return obj, None
            items = tuple(parts)

            def render_list(data: Any, context: Any, variables: Any) -> Any:
                return [c if r is None else r(data, context, variables) for c, r in items]

            return None, render_list
        return obj, None

    def compile_object(self, obj: dict[str, Any], where: str) -> tuple[Any, _Render | None]:
        entries: list[tuple[str, Any, _Render | None]] = []
        seen: set[str] = set()
        for key, value in obj.items():
            if key.endswith(".$"):
                out_key = key[:-2]
                entries.append((out_key, None, self.compile_dynamic(key, value, f"{where}/{key}")))
            else:
                out_key = key
                entries.append((out_key, *self.compile(value, f"{where}/{key}")))
            if out_key in seen:
                raise ValidationError(
                    f"{where}: the key '{out_key}' appears twice (once with '.$'); "
                    "keep only one of them",
                    code="DuplicatePayloadKey",
                )
            seen.add(out_key)
        if all(r is None for _, _, r in entries):
            if len(entries) == len(obj) and all(k == ok for k, (ok, _, _) in zip(obj, entries, strict=True)):
                return obj, None
            return {k: c for k, c, _ in entries}, None
        if all(r is not None for _, _, r in entries):
            dynamics = tuple((k, r) for k, _, r in entries if r is not None)

            def render_dynamic(data: Any, context: Any, variables: Any) -> Any:
                return {k: r(data, context, variables) for k, r in dynamics}

            return None, render_dynamic
        # Copying a dict that already holds every key in order, then overwriting the dynamic
        # ones, keeps the template's key order at the cost of one C-level copy.
        base = {k: c for k, c, _ in entries}
        dynamic = tuple((k, r) for k, _, r in entries if r is not None)

        def render_mixed(data: Any, context: Any, variables: Any) -> Any:
            out = base.copy()
            for k, r in dynamic:
                out[k] = r(data, context, variables)
            return out

        return None, render_mixed

    def compile_dynamic(self, key: str, value: Any, where: str) -> _Render:
        if not isinstance(value, str):
            raise ValidationError(
                f"{where}: the value of a key ending in '.$' must be a string holding a path "
                f"or an intrinsic function, got {type(value).__name__}",
                code="InvalidPayloadTemplate",
            )
        text = value.strip()
        if is_intrinsic(text):
            try:
                intrinsic = compile_intrinsic(text)
            except ValidationError as exc:
                raise ValidationError(f"{where}: {exc.message}", code=exc.code) from None
            if "$$" in text:
                self.uses_context = True
            return _intrinsic_renderer(intrinsic)
        if text.startswith("$"):
            try:
                path = compile_path(text)
            except ValidationError as exc:
                raise ValidationError(f"{where}: {exc.message}", code=exc.code) from None
            if path.root == "$$":
                self.uses_context = True
            return _path_renderer(path, key)
        raise ValidationError(
            f"{where}: the value '{value}' of a key ending in '.$' must be a path starting "
            "with '$' or an intrinsic function such as States.Format(...)",
            code="InvalidPayloadTemplate",
        )


@dataclass(frozen=True, eq=False)
class Template:
    """A compiled payload template; see the module docstring."""

    source: Any
    _constant: Any
    _render: _Render | None
    references_context: bool

    @property
    def is_static(self) -> bool:
        return self._render is None

    def render(
        self,
        data: Any,
        context: Mapping[str, Any] | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> Any:
        render = self._render
        if render is None:
            return self._constant
        return render(data, context, variables)


def compile_template(obj: Any, field: str = "Parameters") -> Template:
    """Compiles a Parameters / ResultSelector / ItemSelector / Assign template once."""
    compiler = _Compiler()
    constant, render = compiler.compile(obj, field)
    return Template(obj, constant, render, compiler.uses_context)

