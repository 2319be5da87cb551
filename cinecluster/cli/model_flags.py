"""CLI flags derived from a pydantic model: one definition of each option (its field: name, type,
default, bounds, description) gives the flag (`batch_size` -> `--batch-size`), its type, default
and help, so an option added to the model is a flag without touching the command."""

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast

import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo

Model = TypeVar("Model", bound=BaseModel)
Command = TypeVar("Command", bound=Callable[..., Any])

_BOUNDS = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))  # pydantic's Field(ge=...) etc.


def flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _help(field: FieldInfo) -> str:
    bounds = [
        f"{sign}{_number(getattr(rule, attribute))}"
        for rule in field.metadata
        for attribute, sign in _BOUNDS
        if getattr(rule, attribute, None) is not None
    ]
    return (field.description or "") + (f" [{', '.join(bounds)}]" if bounds else "")


def model_flag(model: type[BaseModel], name: str, declaration: str | None = None, help: str = "") -> Any:
    """typer.Option for one field of `model` (another command's flag for the same option):
    its default and help, under `declaration` (default: the field's own flag), `help` first."""
    field = model.model_fields[name]
    declaration = declaration or flag_name(name)
    if field.annotation is bool and field.default is True:
        declaration += f"/--no-{declaration.removeprefix('--')}"  # on by default: can be turned off
    return typer.Option(field.default, declaration, help=" ".join(filter(None, [help, _help(field)])))


def _flag(model: type[BaseModel], name: str) -> inspect.Parameter:
    annotation = model.model_fields[name].annotation
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=model_flag(model, name), annotation=annotation
    )


def model_flags(model: type[Model], parse: Callable[[dict[str, Any]], Model]) -> Callable[[Command], Command]:
    """Decorate a command whose parameter `options` is a `model`: the command gets one flag per
    field of the model instead, and receives `parse(the flags' values)` as `options` (parse
    validates: bounds are the model's, its errors the command's errors)."""

    def decorate(command: Command) -> Command:
        signature = inspect.signature(command)
        own = [p.replace(kind=p.KEYWORD_ONLY) for p in signature.parameters.values() if p.name != "options"]
        if "options" not in signature.parameters or {p.name for p in own} & model.model_fields.keys():
            raise TypeError(f"{command.__name__} needs an `options` parameter and no field names of its own")
        flags = [_flag(model, name) for name in model.model_fields]

        @functools.wraps(command)
        def run(**given: Any) -> Any:
            values = {name: given.pop(name) for name in model.model_fields}
            return command(options=parse(values), **given)

        run.__signature__ = signature.replace(parameters=[*flags, *own])  # type: ignore[attr-defined]  # what typer reads
        return cast(Command, run)  # the same command, its flags in place of `options`

    return decorate
