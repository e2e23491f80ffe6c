"""LightningCLI's parser, its errors one line: ``--option value: why``, or the config file and key.

jsonargparse's own messages run to ten lines for a value that fits no type of a Union, name
``"<unicode string>"`` for a YAML error in a file, and an option never typed for a bad value written
in a config. ``MNISTCLI`` builds its parsers from ``MNISTArgumentParser``.
"""

import contextlib
import difflib
import functools
import importlib
import inspect
import itertools
import json
import numbers
import os
import pkgutil
import re
import typing
from pathlib import Path
from typing import Any, NoReturn

import torch
import yaml
from jsonargparse import DefaultHelpFormatter, Namespace, get_loader, set_loader
from jsonargparse._loaders_dumpers import get_yaml_default_loader
from jsonargparse.typing import register_type
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import TensorBoardLogger

from mnist_pl import images

# jsonargparse's restricted numbers (PositiveInt, ...) are int and float subclasses, which yaml's
# safe dumper cannot write: carried into a class's untyped **kwargs (the default LeNet's num_classes
# into a torchvision builder), they ended every dump, --print_config's too, in a RepresenterError.
yaml.SafeDumper.add_multi_representer(int, lambda dumper, value: dumper.represent_int(int(value)))
yaml.SafeDumper.add_multi_representer(float, lambda dumper, value: dumper.represent_float(float(value)))
# The same for str enums: Lightning's Timer callback defaults to Interval.step, and any use of it,
# --trainer.callbacks+=Timer, ended in a traceback ("cannot represent an object").
yaml.SafeDumper.add_multi_representer(str, lambda dumper, value: dumper.represent_str(str.__str__(value)))
# torch.device is no type jsonargparse knows: StochasticWeightAveraging's device default (cpu) went
# into config.yaml as "Unable to serialize instance cpu", a traceback when that config ran again.
register_type(
    torch.device, serializer=str, deserializer=torch.device, deserializer_exceptions=(RuntimeError, TypeError)
)


# YAML 1.1's base-60 numbers, ints and floats (1:30 is 90, 1:30.5 is 90.5): strings in YAML 1.2.
_BASE_60 = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")


def _no_base_60(loader: type[yaml.SafeLoader]) -> type[yaml.SafeLoader]:
    """``loader`` reading YAML 1.1's base-60 numbers as YAML 1.2 does, as strings: 1:00:00:00, a day to
    Lightning's val_check_interval, was the number 216000, and it validated every 216000 batches (max_epochs
    1:30 trained 90). Now a time, or refused as no number. Matched before its number resolvers."""
    string = ("tag:yaml.org,2002:str", _BASE_60)
    resolvers = dict(loader.yaml_implicit_resolvers)
    for first in "-+0123456789":
        resolvers[first] = [string, *(pair for pair in resolvers.get(first, []) if pair != string)]
    loader.yaml_implicit_resolvers = resolvers
    return loader


@_no_base_60
class _Yaml12(yaml.SafeLoader):
    """PyYAML's safe loader without base-60 numbers: the app's own reads of a config (which key a file sets,
    to name it in an error) see the values the parser took (a review: 1:30 in a file was 90 to them)."""


def _yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Yaml12)


def _number(value: Any) -> int | float:
    """A ``numbers.Number`` as YAML or a command line gives it."""
    if isinstance(value, str):
        for number in (int, float):  # float: 1e3 and inf, strings to YAML 1.1
            with contextlib.suppress(ValueError):
                return number(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise ValueError("expected a number")


# jsonargparse takes numbers.Number for a class: torchvision v2's RandomRotation(degrees=15), as its docs
# write it, was refused ("expected a list"), Union[Number, Sequence] matching the list alone.
register_type(numbers.Number, serializer=lambda value: value, deserializer=_number)

_NOT_REASONS = re.compile(
    r"^(Does not validate against any of the Union subtypes|Subtypes: .*|Errors|Given value type: .*|Given value: .*"
    r"|Expected a path but .* either not accessible or invalid"
    # After a class's own reason, what a class value may look like: four more lines.
    r"|Not a valid subclass of \w+|Subclass types expect one of|a class path \(str\)|a dict with class_path entry"
    r"|a dict without class_path but with init_args entry \(class path given previously\)"
    r"|a dict with parameters accepted by the base class \(implicit class_path\))$"
)

# jsonargparse.typing's restricted numbers as a reader says them; its own words are
# "Not of type PositiveInt: 0 does not conform to restriction v>0".
_RESTRICTED = {
    "PositiveInt": "an int > 0",
    "NonNegativeInt": "an int >= 0",
    "PositiveFloat": "a number > 0",
    "NonNegativeFloat": "a number >= 0",
    "ClosedUnitInterval": "a number from 0 to 1",
    "Angle": "a finite number >= 0",  # mnist_pl.augment's
    "Zoom": "a finite number > 0",
    "Shear": "a number from 0 to below 90",
}
_NOT_RESTRICTED = re.compile(
    rf"^Not of type ({'|'.join(_RESTRICTED)}): "
    # The value: -5, or 'abc' of a failed int(); not the type of "... a real number, not 'list'" (a config's [5000]).
    r"(?:(\S+) does not conform to restriction .*|.*?(?<!not )'(.*)'|.*)$"
)


# A class of another kind, as jsonargparse says it for a function's type (the optimizer's) and a class's.
_NOT_A_SUBCLASS = re.compile(
    r"(?:Expected '([\w.]+)' to be|Import path (?:([\w.]+) )?does not correspond to) a subclass of "
    r"(?:<class '(\w+)'>|Union\[([\w, ]+)\]|(\w+))"
)


def _type_name(text: str) -> str:
    text = re.sub(r"<class '(?:[\w.]+\.)?(\w+)'>", r"\1", text).replace("NoneType", "None")
    text = re.sub(r"dot import path string: .*", "a class path (package.module.Class)", text)
    text = re.sub(r"^Sequence$", "a list ([a, b])", text)
    text = re.sub(r"^Number$", "a number", text)
    return re.sub(r"typing\.Literal\[(.*?)\]", r"one of \1", text)


def one_line(message: str) -> str:
    """jsonargparse's message for a bad value as one line: ``--option value: why``.

    Its own runs to ten lines for a value that fits no type of a Union (``max_epochs: int | None``):
    each type it tried, the value's type, the value again, and the whole namespace of a class.
    """
    if message.strip() == "Unexpected config:":  # jsonargparse's words for --config '' (a review)
        return "--config is empty: give a YAML file, such as configs/lenet.yaml"
    # The network nulled in a file (net: ~): "the following arguments are required: fit.model.net" (a review).
    if re.fullmatch(r"the following arguments are required: (?:\w+\.)?model\.net", message.strip()):
        return "--model.net None: expected a class path (a subclass of Module)"
    if config := re.match(r"Parser key \"config\": (File does not exist|Path is not a file): '(.*)'", message):
        path = Path(config[2])
        what = "no such file" if not path.exists() else "a folder" if path.is_dir() else "not a file"
        if what == "no such file" and (
            named := [f"{path}{end}" for end in (".yaml", ".yml") if Path(f"{path}{end}").is_file()]
        ):
            return f"--config {config[2]}: no such file: did you mean {named[0]}?"  # configs/lenet (an audit)
        return f"--config {config[2]}: {what}: give the path of a YAML config file{' in it' * (what == 'a folder')}"
    # A key written twice (_UniqueKeys) in a group's file or in YAML typed: the option, the key and where.
    twice = re.search(r"\S+ written twice \(at lines? [^)]*\)", message)
    if twice and (option := re.match(r'Parser key "([\w.]+)"', message)):
        given = re.search(r"Unable to load config '(.*)'", message)
        return f"--{option[1]}{f' {given[1]}' if given else ''}: {twice[0]}: keep one"
    # A class of another kind (--model.optimizer torch.nn.Linear): jsonargparse named the base as Python
    # prints it (<class 'Optimizer'>), and the class given only where the option takes a Union.
    if (other := _NOT_A_SUBCLASS.search(message)) and (option := re.match(r'Parser key "([\w.]+)"', message)):
        given = re.search(r"^\s*Given value: ([\w.]+)$", message, re.M)
        if cls := other[1] or other[2] or (given and given[1]):
            return f"--{option[1]} {cls}: not a subclass of {(other[3] or other[4] or other[5]).replace(', ', ' or ')}"
    # A group's own option takes a file of its options: --data abc is neither such a file nor YAML of them.
    if group := re.match(r"Parser key \"(\w+)\":\nUnable to load config '(.*)'", message):
        if inner := re.search(r'- (Parser key "\w+\.[\s\S]*)', message):  # YAML of its options, one of them wrong
            return one_line(inner[1])
        if Path(group[2]).is_file():  # it was answered as a file that does not exist
            try:
                loaded = _settings_in(group[2])
            except (TypeError, OSError) as err:  # _settings_in gives YAML errors as TypeErrors
                return f"--{group[1]} {err}" if isinstance(err, TypeError) else f"--{group[1]} {group[2]}: {err}"
            if not isinstance(loaded, dict):
                holds = "nothing" if loaded is None else f"a {type(loaded).__name__}"
                return f"--{group[1]} {group[2]}: holds {holds}, not {group[1]} options: fix the file"
        return (
            f"--{group[1]} {group[2]}: expected a YAML file of {group[1]} options: "
            f"give one that exists, or the options one by one (--{group[1]}.<option> value)"
        )
    # A bad value of a class's argument (--trainer.callbacks.patience abc): the type that argument
    # takes. The Union's other members (a list of callbacks, None, ...) were tried too, in vain.
    argument = re.findall(
        r'Parser key "(\w+)":\s+Expected a (.+?)\. Got value: (.*?)(?:\. Got value: .*)?$', message, re.M
    )
    if argument and (outer := re.match(r'Parser key "([^"]+)":', message)):
        key, _, value = argument[0]
        takes = dict.fromkeys(_type_name(wanted) for name, wanted, _ in argument if name == key)
        option = outer[1] if outer[1] == key else f"{outer[1]}.init_args.{key}"  # an option of its own (a bool)
        return f"--{option} {value}: expected {' or '.join(takes)}"
    keys = re.findall(r'Parser key "([^"]+)":', message)  # nested: an init argument of a class
    given = re.findall(r"(?:Given|Got) value: (.*?)(?:\. Got value: .*)?$", message, flags=re.M)
    text = re.sub(r'Parser key "[^"]+":', "", message)
    text = re.sub(r"Type [^\n]*? expects a function or a callable class:", "", text)
    text = re.sub(r"\.? ?Got value: .*", "", text)
    lines = [line.strip().removeprefix("- ").strip(" :") for line in text.splitlines()]  # "- ": list items
    lines = [line for line in lines if line not in ("", "-") and not _NOT_REASONS.match(line)]  # "-": an emptied item
    lines = [re.sub(r"^Not of type Number: .*", "Expected a Number", line) for line in lines]  # as for int
    # An optimizer of null typed: the words of one in a file (a review)
    none = r"^Expected an import path or a subclass spec, but got None$"
    lines = [re.sub(none, "Expected a dot import path string: None", line) for line in lines]
    if restricted := next(filter(None, map(_NOT_RESTRICTED.match, lines)), None):
        # The value is out of range; the class around it (an augment's, say) is fine.
        others = [line for line in lines if not line.startswith(("Not of type", "Problem with given class_path"))]
        lines = ["expected " + _RESTRICTED[restricted[1]], *others]
        given = given or [value for value in restricted.groups()[1:] if value]
    expected = list(dict.fromkeys(_type_name(line[11:]) for line in lines if line.startswith("Expected a ")))
    # Each Union member that takes a class gives the same reason again.
    reasons = list(dict.fromkeys(line for line in lines if not line.startswith("Expected a ")))
    plain = [e for e in expected if e != "None" and not e.startswith("a class path")]
    if plain and not any("class_path" in reason for reason in reasons):
        # the value fits none of these; a class path would fit a Tensor, which nobody means
        reasons.append("expected " + " or ".join(e for e in expected if not e.startswith("a class path")))
    elif plain and len(keys) > 1:
        # An argument of a class (--data.augment.degrees abc): the class is fine, the value is not.
        reasons = ["expected " + " or ".join(plain)]
    elif expected and not reasons:
        reasons.append("expected " + " or ".join(expected))
    if not reasons and (subclass := re.search(r"Not a valid subclass of (\w+)", message)):
        reasons.append(f"expected a class path (a subclass of {subclass[1]})")  # null: "--model.net None" alone
    # A value with a colon (lr 1:30.5) was tried as a class's module:name too: not its reason where another is.
    reasons = [r for r in reasons if not r.startswith("Unexpected import path format")] or reasons
    value = given[0] if given else ""
    # An init argument of a class given on its own (--trainer.logger.init_args.save_dri x): its key and value.
    if nested := re.match(r"^NestedArg\(key='(.*?)', val=(?:'(.*)'|(.*))\)$", value):
        keys += [] if keys[-1:] == [nested[1]] else [nested[1]]
        value = nested[2] if nested[2] is not None else nested[3]
    option = "--" + ".init_args.".join(keys) if keys else ""
    if option and value and not value.startswith(("Namespace(", "[Namespace(")):  # a class: the reasons name it
        option += f" {value}"
    return ": ".join([option, *reasons] if option else reasons)


def null_refused(config: Namespace, groups: dict[str, type]) -> str | None:
    """One line for a null that a config file gave a setting of ``groups``' classes (``{"data":
    MNISTDataModule}``) which takes none, or None. jsonargparse takes null from a file for any type
    (``--data.batch_size null`` it refuses): a TypeError traceback as the first batch was cut."""
    for group, cls in groups.items():
        settings = config.get(group)
        for name, hint in typing.get_type_hints(cls.__init__).items():
            if not isinstance(settings, Namespace) or name not in settings or settings[name] is not None:
                continue
            if hint is not Any and type(None) not in typing.get_args(hint):
                return f"--{group}.{name} None: expected {_words(hint)}"
    return None


# TensorBoard's SummaryWriter takes these through TensorBoardLogger's **kwargs, untyped.
_WRITER_ARGUMENTS = {"max_queue": (int, "int"), "flush_secs": (int | float, "a number"), "purge_step": (int, "int")}


def writer_refused(config: Namespace) -> str | None:
    """One line for a TensorBoard writer argument of the wrong type, or None: jsonargparse let any
    value pass, and the writer failed in a TypeError traceback as the run started."""
    loggers = config.get("trainer.logger")
    for logger in loggers if isinstance(loggers, list) else [loggers]:
        if isinstance(logger, Namespace) and issubclass(pkgutil.resolve_name(logger.class_path), TensorBoardLogger):
            for key, (kind, expected) in _WRITER_ARGUMENTS.items():
                value = logger.init_args.get(key)
                if value is not None and not isinstance(value, kind):
                    return f"--trainer.logger.init_args.{key} {value}: expected {expected}"
    return None


def _words(hint: Any) -> str:
    """A type as a reader says it: PositiveInt as "an int > 0", a Literal as its values, a network or
    an optimizer as a class path."""
    if typing.get_origin(hint) is typing.Literal:
        return "one of " + ", ".join(map(repr, typing.get_args(hint)))
    name = getattr(hint, "__name__", "")
    if name in _RESTRICTED or hint in (int, float, str, bool):
        return _RESTRICTED.get(name, name)
    return "a class path (package.module.Class)"


def not_built(message: str, config: Namespace) -> str | None:
    """One line for a class jsonargparse could not build, or None for another message; ``config``
    is the subcommand's, where the class's option is looked up."""
    problem = re.search(r"Problem with given class_path '([\w.]+)':\s*(.+)", message)
    union = re.match(r"Does not validate against any of the Union subtypes\nSubtypes: (.*)\nErrors:\n  - (.+)", message)
    if problem:
        cls, reason = problem[1], problem[2]
    elif union and (given := re.search(r"class_path='([\w.]+)'", message)):
        cls, reason = given[1], union[2]
    else:
        return None
    subtypes = union[1] if union else ""
    given_as = [key.removesuffix(".class_path") for key, value in config.items() if value == cls]
    listed = (o for word, o in _CLASS_OPTIONS if word in subtypes or f".{word}s." in cls)  # in a list: not found above
    option = f"--{given_as[0]}" if given_as else next(listed, "a class of the config")
    fix = "" if "install" in reason.lower() else ": fix its settings, or leave it out"
    return f"{option} {cls}: cannot be built: {reason.strip().rstrip('.')}{fix}"


_CLASS_OPTIONS = (("callback", "--trainer.callbacks"), ("logger", "--trainer.logger"), ("plugin", "--trainer.plugins"))


# The --config files of the parse in progress (forget_config_files empties it), newest last: an unknown key
# is reported by the top parser, which no longer knows the file it came from.
CONFIG_FILES: list[Path] = []
# Where each of them is read from: jsonargparse parses a config inside its folder, where a name given
# relative to the command's folder (runs/a/config.yaml) is no file, and the error named an option never typed.
_READ_FROM: dict[Path, Path] = {}


def forget_config_files() -> None:
    """A new parse's start (MNISTCLI's): the files of the one before are not its."""
    CONFIG_FILES.clear()
    _READ_FROM.clear()


# The words of the command line of that parse (MNISTCLI sets them): the errors of a subcommand's parser
# may say what a word meant.
COMMAND_LINE: list[str] = []


def _lookup(path: Path, dotted: str) -> object:
    """The value at ``dotted`` in the YAML file ``path``, or in any subcommand's section of it (a --config
    of the main parser); KeyError (the class) where there is none."""
    path = _READ_FROM.get(path, path)
    try:
        tree = _loaded(path, path.stat().st_mtime_ns)
    except (OSError, yaml.YAMLError):
        return KeyError
    return _find(tree, dotted)


@functools.lru_cache(maxsize=16)
def _loaded(path: Path, mtime_ns: int) -> object:
    """A config file's tree, parsed once while the file is unchanged: the checks of a command line read
    a dozen keys of each file (a run's config.yaml, 5.5 ms a parse, took 66 ms of every resume's start)."""
    return _yaml(path.read_text())


def _find(tree: object, dotted: str, subcommand: str | None = None) -> object:
    """``_lookup`` in a loaded tree. A class's arguments may be written with or without ``init_args``; in a list
    of classes (trainer.callbacks), the first class that has it."""
    for prefix in ("", *(f"{name}." for name in LightningCLI.subcommands() if subcommand in (None, name))):
        if (node := _descend(tree, (prefix + dotted).split("."))) is not KeyError:
            return node
    return KeyError


def _descend(node: object, parts: list[str]) -> object:
    if not parts:
        return node
    if isinstance(node, list):  # a callback's argument was found in no file: its error named an option untyped
        return next((found for each in node if (found := _descend(each, parts)) is not KeyError), KeyError)
    part = parts[0]
    if isinstance(node, dict) and part not in node and isinstance(node.get("init_args"), dict):
        node = node["init_args"]
    # A dotted key (trainer.max_epochs: 3, or with init_args), read by jsonargparse as nested ones: checks missed it.
    plain = [p for p in parts if p != "init_args"]
    for written in node if isinstance(node, dict) else []:
        names = [p for p in str(written).split(".") if p != "init_args"]
        if "." in str(written) and len(names) > 1 and plain[: len(names)] == names:
            return _descend(node[written], plain[len(names) :])
    return _descend(node[part], parts[1:]) if isinstance(node, dict) and part in node else KeyError


def _a_later_config_names(key: str, resolved: str, words: list[str]) -> str | None:
    """The class that the last --config among ``words`` to name one for ``key`` names, where it is another
    than ``resolved``: an argument typed before it was read for the class chosen so far (minimal.yaml's
    width, typed before it, for LeNet); None where none does."""
    last = None
    for option, path in options_and_values(words):
        named = _lookup(Path(path), key) if option in ("-c", "--config") else KeyError
        named = named.get("class_path") if isinstance(named, dict) else named
        last = named if isinstance(named, str) else last
    return last if last is not None and last.split(".")[-1] != resolved.split(".")[-1] else None


def _arguments_of(class_path: str) -> list[str]:
    """The arguments the class at ``class_path`` takes from a config (the model gives its params or optimizer)."""
    module, _, cls = class_path.rpartition(".")
    try:
        taken = inspect.signature(getattr(importlib.import_module(module), cls)).parameters
    except (ImportError, AttributeError, TypeError, ValueError):
        taken = {}
    return [p for p in taken if p not in ("self", "params", "optimizer")]


def _beside_class_path(key: str) -> str | None:
    """Where a class's arguments were written beside its class_path, not under init_args, and how to write
    them: jsonargparse took that class_path for an argument of the class before it, and the line said "SGD
    takes no argument 'class_path'" (a review)."""
    parts = key.split(".")
    places = []  # typed as the option, or inside a group's (--model '{optimizer: {...}}')
    for option, value in options_and_values(COMMAND_LINE):
        within = next((n for n in range(1, len(parts) + 1) if option == f"--{'.'.join(parts[:n])}"), None)
        if within is not None:
            tree, rest = _config_tree(value), ".".join(parts[within:])
            places.append((f"{option} (its {rest})" if rest else option, _find(tree, rest) if rest else tree))
    places += [(f"{path}: {key}", _lookup(path, key)) for path in CONFIG_FILES]
    for where, spec in reversed(places):
        if isinstance(spec, dict) and "init_args" not in spec and len(spec) > 1 and "class_path" in spec:
            # As JSON, which YAML reads: "a: b" quoted, null as null (a review)
            init_args = ", ".join(
                f"{name}: {json.dumps(value, default=str)}" for name, value in spec.items() if name != "class_path"
            )
            return (
                f"{where}: {', '.join(name for name in spec if name != 'class_path')} beside class_path: a class's "
                f"arguments go under init_args: {{class_path: {spec['class_path']}, init_args: {{{init_args}}}}}"
            )
    return None


def _argument_fix(key: str, class_path: str, name: str, thing: str) -> str:
    """The fix of an argument ``name`` that the class of option ``key`` does not take: its nearest argument."""
    own = _arguments_of(class_path)
    near = difflib.get_close_matches(name, own, n=1, cutoff=0.75)
    listed = f"(--{key}.help {class_path} lists them)"
    return f"did you mean {near[0]}? {listed}" if near else f"fix the {thing} {listed}"


def _in_config_file(message: str, raw: str, options: list[str]) -> str:
    """One line for an unknown key or class argument, naming the --config file that holds it, or the
    option typed; with the key or argument meant, where one is near.

    ``message`` is the one line so far; ``raw`` jsonargparse's own message; ``options`` the subcommand's.
    """
    if unknown := re.fullmatch(r"Subcommand '(\w+)' does not accept option '([^']+)'", message):
        subcommand, key = unknown.groups()
        meant = _meant(f"--{key}", options)
        if meant and " " in meant:  # the command line's advice for the example's flags ("--dry-run": ... true)
            meant = near_option(f"--{key}", options)
        listed = f"(python -m mnist_pl {subcommand} --help lists them)"
        fix = f"did you mean {meant.removeprefix('--')}? {listed}" if meant else f"fix the key {listed}"
        for path in reversed(CONFIG_FILES):
            if _lookup(path, key) is not KeyError:
                if _lookup(path, "_instantiator") is not KeyError:  # Lightning's mark in the hparams it saves
                    return (
                        f"{path}: a run's hparams.yaml (the model's and data's settings), not a config: "
                        "give the run's config.yaml, beside it"
                    )
                return f"{path}: {key} is not an option of {subcommand}: {fix}"
        return f"{key} is not an option of {subcommand}: {fix}"  # in a group's file or YAML (--data my.yaml)
    # A callback's argument typed before its --trainer.callbacks+= goes to the callback before it: jsonargparse's
    # line named that class and Lightning's Callback, and no fix (an audit).
    listed = re.match(
        r"--trainer\.callbacks\.init_args\.(\w+) (.*?): Problem with given class_path '([\w.]+)': Option '\1' is not",
        message,
    )
    if listed:
        typed = [i for i, w in enumerate(COMMAND_LINE) if w.startswith(f"--trainer.callbacks.{listed[1]}")]
        # Only where a callback is added after it: one typed after its callback is misspelled (below).
        if typed and any(w.startswith("--trainer.callbacks+") for w in COMMAND_LINE[typed[0] + 1 :]):
            return (
                f"--trainer.callbacks.{listed[1]} {listed[2]}: an argument of the callback given last before it, "
                f"{listed[3]}, which takes no {listed[1]!r}: give it after the --trainer.callbacks+= of its callback"
            )
    # A misspelled argument of a class: the class as it was resolved is in jsonargparse's message (of a
    # callback, with Lightning's Callback's refusal of it after its own).
    message = re.sub(r": Problem with given class_path 'lightning\.Callback'$", "", message)
    argument = re.fullmatch(
        r"--([\w.]+)(?: .*?)?: (?:Problem with given class_path '([\w.]+)': )?Option '(\w+)' is not accepted", message
    )
    got = re.search(r"Got value: Namespace\(.*?\bclass_path='([\w.]+)'", raw)
    resolved = argument and (argument[2] or (got and got[1]))
    if (
        argument
        and argument[3] == "class_path"
        and (beside := _beside_class_path(re.sub(r"(\.init_args)?\.class_path$", "", argument[1])))
    ):
        return beside
    for path in reversed(CONFIG_FILES if resolved else []):
        key, name = argument[1], argument[3]
        written_for = _lookup(path, f"{key}.class_path")
        if written_for is not KeyError and str(written_for).split(".")[-1] != resolved.split(".")[-1]:
            continue  # its arguments are for its own class: another one chosen after it is not its fault
        if _lookup(path, f"{key}.init_args.{name}") is not KeyError:
            return f"{path}: {key}.init_args.{name}: {resolved} takes no argument {name!r}: " + _argument_fix(
                key, resolved, name, "key"
            )
    if resolved:  # jsonargparse's words (--model.net: Problem with given class_path ...: Option 'widht' ...)
        key = re.sub(rf"(\.init_args)?\.{argument[3]}$", "", argument[1])
        at = next((i for i, word in enumerate(COMMAND_LINE) if word.startswith(f"--{key}.")), None)
        typed = at is not None  # else in a group's file (--model m.yaml)
        fix = _argument_fix(key, resolved, argument[3], "option" if typed else "key")
        if typed and (later := _a_later_config_names(key, resolved, COMMAND_LINE[at + 1 :])):
            fix = "typed before --config, it was read for the class chosen then: give it after the --config"
            if argument[3] not in _arguments_of(later):  # given after, refused again (a review)
                near = _argument_fix(key, later, argument[3], "option").replace("fix the option", "leave it out")
                fix = f"nor does {later}, which a later --config names: {near}"
        return f"{'--' * typed}{key}.init_args.{argument[3]}: {resolved} takes no argument {argument[3]!r}: {fix}"
    # A class that cannot be imported or built, written in a config file: that file, and the class.
    bad_class = re.fullmatch(
        r"--([\w.]+)(?:: Problem with given class_path '([\w.]+)': (?!Option ')| ([\w.]+): (?=not a subclass))(.*)",
        message,
    )
    for path in reversed(CONFIG_FILES if bad_class else []):
        key, class_path = bad_class[1], bad_class[2] or bad_class[3]
        if class_path in (_lookup(path, key), _lookup(path, f"{key}.class_path")):
            return f"{path}: {key} {class_path}: {bad_class[4].removeprefix(f'{class_path} ')}"
    # A value of the wrong type or range written in a config file: that file, not an option never typed.
    bad_value = re.fullmatch(r"--([\w.]+) (.+?): (expected .*)", message)
    # Unless typed so: a typed 64.0 (or true) where the file's 64 (or 1) is good was "fix the file".
    if bad_value and (bad_value[1].replace(".init_args.", "."), bad_value[2]) in (
        (option.removeprefix("--").replace(".init_args.", "."), value)
        for option, value in options_and_values(COMMAND_LINE)
    ):
        return message
    for path in reversed(CONFIG_FILES if bad_value else []):
        key, value, reason = bad_value.groups()
        written = _lookup(path, key.replace(".init_args.", "."))  # with or without init_args, as _find reads it
        if written is not KeyError and _same_value(written, value):
            return f"{path}: {key} {value}: {reason}: fix the file"
    # A value jsonargparse names by its type alone (int()'s "..., not 'list'": a config's [5000]): the first word
    # of the command line that gives the key a value of that type, typed or a --config file's (the parse stops at
    # the first bad value; a later one may be good). Elsewhere (a group's file) the line stays without it.
    unnamed = re.fullmatch(r"--([\w.]+): (expected .*)", message)
    if unnamed and (kind := re.search(r", not '(\w+)'$", raw, re.M)):
        key, reason = unnamed.groups()
        for option, value in options_and_values(COMMAND_LINE):
            if option == f"--{key}" and type(_config_tree(value)).__name__ == kind[1]:
                return f"--{key} {value}: {reason}"
            if option in ("-c", "--config") and type(written := _lookup(Path(value), key)).__name__ == kind[1]:
                return f"{value}: {key} {written}: {reason}: fix the file"
    return message


def options_and_values(line: list[str]) -> list[tuple[str, str]]:
    """Each word of a command line as (option, value): ``--a=b``, or ``--a`` and the word after it."""
    pairs = []
    for i, word in enumerate(line):
        option, equals, value = word.partition("=")
        pairs.append((option, value if equals else next(iter(line[i + 1 : i + 2]), "")))  # --a= is ""
    return pairs


def given_again(line: list[str], options: tuple[str, ...]) -> str | None:
    """The error of one of ``options`` given more than once on the command line: argparse and jsonargparse take the
    last, without a word (predict of two folders predicted the second alone; an audit)."""
    for option in options:
        if len(typed := [value for given, value in options_and_values(line) if given == option]) > 1:
            times = "twice" if len(typed) == 2 else f"{len(typed)} times"
            return f"{option} given {times} ({', then '.join(typed)}): only the last would be used: give one"
    return None


def named_where_written(message: str, command_line: list[str], subcommand: str, of_the_class: bool) -> str | None:
    """An error of our own checks, ``--key value...``, as ``file.yaml: key value...`` where the value
    came from a file (a class named there: only for a message ``of_the_class`` itself); None where it did not.

    The command line is read from its end, as the parser applied it: the last word that sets the
    key is where the value came from: a --config file, a file given to a group of the key
    (``--data my.yaml``), or an option typed (the key's own, or a group's inline ``'{...}'``).
    """
    if not (refused := re.match(r"--([\w.]+) ", message)):
        return None
    key, shown = refused[1].replace(".init_args.", "."), message[refused.end() :]  # matched without init_args
    for option, value in reversed(options_and_values(command_line)):
        group = option.removeprefix("--").replace(".init_args", "")
        if option in ("-c", "--config"):
            inner, named = key, refused[1]
        elif option.startswith("--") and (key.startswith(f"{group}.") or key == group):
            inner = named = key.removeprefix(group).removeprefix(".")
        else:
            continue
        if not inner:  # the key's own option
            return None
        try:
            text, is_file = Path(value).read_text(), True
        except (OSError, UnicodeDecodeError):  # inline YAML or JSON, a file name too long for one
            text, is_file = value, False
        try:
            tree = _yaml(text)
        except yaml.YAMLError:
            continue
        if (written := _find(tree, inner, subcommand)) is KeyError:
            continue
        return f"{value}: {named} {shown}" if is_file and _same_value(written, shown, of_the_class) else None
    return None


def an_option_of_no_logger(words: list[str]) -> str | None:
    """``--trainer.logger`` false, null or true, then an option of a logger in ``words``, as one line; None where
    not. jsonargparse blamed the option after false in words of its own, and built a logger of Lightning's
    defaults from null and the option (its runs in lightning_logs, the recipe's logger name lost)."""
    chosen = None  # the last --trainer.logger's value: a logger class given after false takes its options
    for option, value in options_and_values(words):
        if option == "--trainer.logger":
            chosen = value
        elif option.startswith("--trainer.logger.") and chosen is not None and _no_class(chosen):
            what = "no logger" if _yaml(chosen) is False else "Lightning's default logger"
            return f"--trainer.logger {chosen} ({what}), then {option}, an option of a logger: leave out one of them"
    return None


def _arguments_given(spec: object) -> set[str]:
    """The arguments a class's spec (``{class_path: ..., init_args: {...}}``, read inline or from a file) gives."""
    if not isinstance(spec, dict):
        return set()
    inner = spec.get("init_args")
    return {*(inner if isinstance(inner, dict) else {}), *spec} - {"class_path", "init_args"}


def _no_class(value: str) -> bool:
    """Whether ``value`` is YAML's boolean or null, in any spelling (none, ~, off, no: a review), not a class."""
    try:
        loaded = _yaml(value)
    except yaml.YAMLError:
        return False
    return isinstance(loaded, bool) or loaded is None or value.lower() == "none"


_GROUPS = ("data", "model", "trainer", "checkpoint", "predictions")  # a file of its settings: --data d.yaml


def set_again_by_a_config(words: list[str], subcommand: str) -> str | None:
    """An option of ``words`` (the subcommand's) that a --config file after it sets again, and no word
    after the file sets once more, as one line; None where there is none. The parser applies its
    words in order: the file's value won, silently.

    A group given whole before a file (``--data d.yaml``, or inline): each key of it, by itself (a class by its
    name, as typed; its arguments merged into the class given before by a file that names none).
    """
    words_read: list[tuple[str, str, str, str]] = []  # (key or "", option, value, as said); "" for a --config
    for i, word in enumerate(words):
        option, eq, value = word.partition("=")
        if not eq and i + 1 < len(words) and not words[i + 1].startswith("--"):
            value = words[i + 1]
        if option in ("-c", "--config"):
            words_read.append(("", option, value, ""))
        elif option.startswith("--"):
            key = option[2:].removesuffix("+").replace(".init_args.", ".").removesuffix(".init_args")
            group = _config_tree(value) if key in _GROUPS else None
            if isinstance(group, dict):
                for inner, setting in _leaves(group):
                    # As YAML reads it back: a class by its path, as typed; a value as itself ("a: b" a string)
                    is_class = isinstance(setting, dict) and "class_path" in setting
                    shown = _written(setting) if is_class else json.dumps(setting, default=str)
                    words_read.append((f"{key}.{inner}", option, shown, f"{option} {value} (its {inner}: {shown})"))
            else:
                words_read.append((key, option, value, f"{option} {value}"))
    for n, (config_key, config_option, path, _) in enumerate(words_read):
        tree = None if config_key else _config_tree(path)  # a --config's key is ""
        if not isinstance(tree, dict):
            continue
        given_again = {key for key, _, _, _ in words_read[n + 1 :]}
        for key, typed, shown, said in words_read[:n]:
            if not key or key in given_again:
                continue
            # Set by the file, or by a config it names (config: fast.yaml), read with it (a review)
            sets, read = "which sets", tree
            for source, inner in [(path, tree), *_configs_named_in(tree, path)]:
                if (written := _find(inner, key, subcommand)) is not KeyError:
                    sets, read = "which sets" if source == path else f"whose config {source} sets", inner
                    break
            group, _, name = key.rpartition(".")
            named = _find(read, group, subcommand) if written is KeyError and group else None
            takes = _arguments_of(named["class_path"]) if isinstance(named, dict) and "class_path" in named else []
            if takes and name not in takes:  # jsonargparse dropped it with the class, without a word (a review)
                near = _argument_fix(group, named["class_path"], name, "option")
                return (
                    f"{said} is given before {config_option} {path}, {sets} {group}: {named['class_path']}, "
                    f"which takes no argument {name!r}: " + near.replace("fix the option", f"leave out {typed}")
                )
            if written is KeyError:  # a list in the file (--trainer.logger's) replaces all given inside it
                parts = key.split(".")
                outer = [".".join(parts[:m]) for m in range(len(parts) - 1, 0, -1)]
                key = next((k for k in outer if isinstance(_find(read, k, subcommand), list)), key)
                written = _find(read, key, subcommand)
            if written is KeyError or (isinstance(written, dict) and "." not in key):  # a group's section
                continue
            if isinstance(written, dict) and "init_args" in written and "class_path" not in written:
                continue  # arguments merged into the class given before, not a class in its place
            if _as_given(written, shown):
                continue
            return (
                f"{said} is given before {config_option} {path}, {sets} {key}: {_written(written)} "
                f"and wins: give {typed} after {config_option}"
            )
    return None


def _configs_named_in(tree: dict, path: str) -> list[tuple[str, object]]:
    """The config a config names in its own ``config`` key (a path from its folder, as jsonargparse reads it), and
    its tree."""
    named = tree.get("config")  # one path: jsonargparse reads no list there (a review)
    return [(named, _config_tree(str(Path(path).parent / named)))] if isinstance(named, str) else []


def _leaves(tree: dict, within: str = "") -> list[tuple[str, object]]:
    """The dotted keys of a group's settings (``optimizer.momentum``, without init_args) and their values; a
    class or a list as one value."""
    leaves = []
    for key, value in tree.items():
        if isinstance(value, dict) and "class_path" not in value:
            leaves += _leaves(value, within if key == "init_args" else f"{within}{key}.")
        else:
            leaves.append((f"{within}{key}", value))
    return leaves


def callbacks_replaced(words: list[str], config: Namespace, defaults: list[dict]) -> str | None:
    """A warning for ``--trainer.callbacks X`` on the command line (or ``callbacks:`` under ``trainer:`` in a
    config file), which replaces the app's callbacks (``defaults``) where ``+=`` (``callbacks+:``) adds to
    them: ImageLogger's curves.png went without a word."""
    typed = any(word == "--trainer.callbacks" or word.startswith("--trainer.callbacks=") for word in words)
    written = [path for path in CONFIG_FILES if _lookup(path, "trainer.callbacks") is not KeyError]
    # A --trainer value's, inline or a file's, where callbacks+ replaces them too (no warning; a review).
    values = [value for option, value in options_and_values(words) if option == "--trainer"]
    grouped = [
        v for v in values if isinstance(tree := _config_tree(v), dict) and {"callbacks", "callbacks+"} & tree.keys()
    ]
    if not typed and not written and not grouped:
        return None
    given = config.trainer.get("callbacks") or []
    given = given if isinstance(given, list) else [given]  # one class alone: a Namespace
    kept = {c.get("class_path") for c in given if isinstance(c, Namespace | dict)}
    dropped = [d["class_path"].rpartition(".")[2] for d in defaults if d["class_path"] not in kept]
    if not dropped:
        return None
    # Without the app's ModelSummary Lightning prints its own, of the top-level modules only.
    what = {"ModelSummary": "the summary's inner layers", "LearningRateMonitor": "the learning rate's curve"}
    lost = ", ".join(what.get(name, "the run dir's curves.png and pictures") for name in dropped)
    if typed or grouped:
        given = f"--trainer {grouped[-1]}: its callbacks replace" if grouped else "--trainer.callbacks replaces"
        return (
            f"{given} the app's callbacks, leaving out {', '.join(dropped)} ({lost}): --trainer.callbacks+=X adds X "
            "to them"
        )
    return (
        f"{written[-1]}: trainer.callbacks replaces the app's callbacks, leaving out {', '.join(dropped)} ({lost}): "
        "write callbacks+: in its place to add to them"
    )


def _as_read(value: Any) -> Any:
    """``value`` as a config reads it back: a tuple default, (0.02, 0.33), is the list [0.02, 0.33]."""
    return [_as_read(each) for each in value] if isinstance(value, tuple | list) else value


def kept_from_the_config(words: list[str], config: Namespace) -> list[str]:
    """Warnings for a class given on the command line (``--model.optimizer torch.optim.AdamW``), or in a
    config file, that keeps values of the arguments it shares with the class before it, where they are
    not its own defaults and neither ``words`` (the subcommand's) nor that file give them. jsonargparse
    keeps them: AdamW trained with SGD's weight_decay 0, a file's Adadelta with Adam's lr 0.001 (its own:
    1.0), without a word.
    """
    messages = []
    for group in ("model.optimizer", "model.scheduler", "model.net", "data.augment"):
        typed = [value for option, value in options_and_values(words) if option == f"--{group}"]
        chosen = config.get(group)
        if not isinstance(chosen, Namespace):
            continue  # no class
        written = [_class_written(path, group) for path in CONFIG_FILES]
        name = chosen.class_path.rpartition(".")[2]
        if typed:
            if [w for w in written if w is not None][-1:] == [name]:
                continue  # the config's own class: its values are the config's for it
            files: list[Path] = []
        else:
            at = max((i for i, w in enumerate(written) if w is not None), default=None)
            before = next((w for w in reversed(written[:at]) if w is not None), None) if at is not None else None
            if at is None or written[at] != name or before == name:
                continue  # not chosen in a file, or by the file before it too: the values are that file's for it
            files = CONFIG_FILES[at:]
        given = {word.partition("=")[0].rsplit(".", 1)[-1] for word in words if word.startswith(f"--{group}.")}
        # Given with some of its arguments (inline, or in a file of them): those are its own, the others are kept
        # as well (a review: lr 0.1 typed so was said to be kept, and a weight_decay kept was not said).
        given |= _arguments_given(_config_tree(typed[-1])) if typed else set()
        try:
            parameters = inspect.signature(pkgutil.resolve_name(chosen.class_path)).parameters
        except (ImportError, AttributeError, TypeError, ValueError):
            continue
        kept = {
            key: value
            for key, value in vars(chosen.get("init_args") or Namespace()).items()
            if key not in given
            and not any(_lookup(path, f"{group}.{key}") is not KeyError for path in files)
            and key in parameters
            and parameters[key].default is not inspect.Parameter.empty
            and _as_read(value) != _as_read(parameters[key].default)
        }
        if not kept:
            continue
        values = ", ".join(f"{k} {v}" for k, v in kept.items())
        own = ", ".join(str(parameters[k].default) for k in kept)
        if typed:
            messages.append(
                f"--{group} {chosen.class_path} keeps {values} from the config ({name}'s own: {own}): give "
                f"{' and '.join(f'--{group}.init_args.{key}' for key in kept)} to choose"
            )
        else:
            messages.append(
                f"{files[0]}: {group} {chosen.class_path} keeps {values} of the class before it ({name}'s own: "
                f"{own}): give {' and '.join(f'{group}.init_args.{key}' for key in kept)} in the file to choose"
            )
    return messages


def _class_written(path: Path, group: str) -> str | None:
    """The name of the class the file ``path`` chooses for ``group`` (its class_path, or the value given as
    one), without its module: jsonargparse takes either; None where it chooses none."""
    written = _lookup(path, f"{group}.class_path")
    written = _lookup(path, group) if written is KeyError else written
    return written.rpartition(".")[2] if isinstance(written, str) else None


def _config_tree(value: str) -> object:
    """A --config value as the parser reads it: a file, or YAML given inline; None where neither."""
    try:
        return _yaml(Path(value).read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):  # the parser has read it, or said why not
        pass
    try:
        return _yaml(value)
    except yaml.YAMLError:
        return None


def _as_given(written: object, shown: str) -> bool:
    """Whether the file's value is the one given: the same class, number or YAML value."""
    if isinstance(written, dict) and "class_path" in written:
        return shown.rsplit(".", 1)[-1] == str(written["class_path"]).rsplit(".", 1)[-1]
    try:
        loaded = _yaml(shown)
    except yaml.YAMLError:
        loaded = shown
    if loaded == written:
        return True
    number, written_number = _as_float(str(loaded)), _as_float(str(written))
    return number is not None and number == written_number


def _written(value: object) -> str:
    """A config's value as YAML writes it (null, true), a class by its class_path."""
    if isinstance(value, list):
        return f"[{', '.join(map(_written, value))}]"
    if isinstance(value, dict) and "class_path" in value:
        return str(value["class_path"])
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _same_value(written: object, shown: str, of_the_class: bool = False) -> bool:
    """Whether the message's value (``shown`` begins with it) is the one written in the file: -1 is
    -1.0 once parsed as a float, and -1e-3 (a string to YAML 1.1) -0.001; false is False."""
    if re.match(re.escape(str(written)) + r"(?=[:\s]|$)", shown):
        return True
    # A class written there is not the value a message names, unless the message is about the class
    # itself: its arguments may come from elsewhere.
    if isinstance(written, dict):
        return of_the_class and re.match(re.escape(_written(written)) + r"(?=[:\s]|$)", shown) is not None
    return _as_given(written, re.match(r"[^\s:]*", shown)[0])


def _as_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def model_not_rebuilt(ckpt_path: object, err: Exception) -> str:
    """Why a checkpoint's model settings cannot be built here, and whose fix that is."""
    reason = one_line(str(err)).removeprefix("--")
    # A network of the user's own module, not on this Python's path: no version of mnist_pl has it.
    own = re.search(r"class_path '([\w.]+)': (No module named '[\w.]+')", reason)
    if own and not own[1].startswith("mnist_pl."):
        return (
            f"--ckpt_path {ckpt_path}: its network {own[1]} cannot be imported ({own[2]}): "
            "make its module importable (PYTHONPATH), as where it was trained"
        )
    return (
        f"--ckpt_path {ckpt_path}: its model settings do not fit this version of mnist_pl ({reason}): "
        "train it again with this version"
    )


# The options of one path, and what a glob given to them needs.
GLOBBED = {
    "--data.predict_path": "quote it (--data.predict_path 'my/*.png')",
    "--ckpt_path": "--ckpt_path takes one checkpoint",
}


def globbed(given: str, line: list[str] | None = None) -> str | None:
    """``unrecognized arguments: ...`` and the fix, where ``given`` (argparse's words, joined by spaces) are files
    that follow the value of an option of ``GLOBBED`` on the command line (``line``; the CLI's by default): an
    unquoted glob the shell expanded, whose first file the option took. Past three files, the first two and the
    last: 300 made a line of 12,000 characters, its fix at the end. (Joined, not split: a name with a space,
    "c d.png", was two words that matched none on the line.)"""
    line = COMMAND_LINE if line is None else line
    if not given or given.startswith("--"):  # a misspelt option, not files
        return None
    for option, fix in GLOBBED.items():
        for i, word in enumerate(line):
            end = i + 2 if word == option else i + 1 if word.startswith(f"{option}=") else None
            if end is None:
                continue
            files = next((line[end:k] for k in range(end + 1, len(line) + 1) if " ".join(line[end:k]) == given), [])
            # A checkpoints' glob gives checkpoints: predict's folder after a --ckpt_path's value is no glob (a review).
            if files and (option != "--ckpt_path" or all(file.endswith(".ckpt") for file in files)):
                few = " ".join(files) if len(files) <= 3 else f"{files[0]} {files[1]} ... {files[-1]}"
                counted = "1 file" if len(files) == 1 else f"{len(files)} files"
                return f"unrecognized arguments: {few}: {counted}, as the shell expands an unquoted glob: {fix}"
    return None


# The flags of PyTorch's MNIST example (examples/mnist/main.py), where many come from: their options here.
_THE_EXAMPLES_FLAGS = {
    "--batch-size": "--data.batch_size",
    "--test-batch-size": "--data.eval_batch_size",
    "--epochs": "--trainer.max_epochs",
    "--lr": "--model.optimizer.init_args.lr",
    "--momentum": "--model.optimizer.init_args.momentum",  # of its SGD years, where lenet.yaml comes from
    "--gamma": "--model.scheduler.init_args.gamma (with --model.scheduler StepLR)",
    "--no-cuda": "--trainer.accelerator cpu",
    "--no-accel": "--trainer.accelerator cpu",
    "--no-mps": "--trainer.accelerator cpu",
    "--dry-run": "--trainer.fast_dev_run true",
    "--seed": "--seed_everything",
    "--log-interval": "--trainer.log_every_n_steps",
    "--save-model": "nothing: a fit always saves its checkpoints",
    # And Lightning's own, of versions before 2.0.
    "--gpus": "--trainer.devices (with --trainer.accelerator gpu)",
    "--trainer.gpus": "--trainer.devices (with --trainer.accelerator gpu)",
    "--resume_from_checkpoint": "--ckpt_path",
    "--trainer.resume_from_checkpoint": "--ckpt_path",
}


def _meant(word: str, options: list[str]) -> str | None:
    """The option an unrecognized ``word`` was probably meant to be: the example's flag, or a near spelling."""
    option = word.partition("=")[0]
    if option in _THE_EXAMPLES_FLAGS:
        return _THE_EXAMPLES_FLAGS[option]
    # LightningCLI's own optimizer and schedule options, which Lightning's docs teach: the model holds them here.
    for lightnings, ours in (("--optimizer", "--model.optimizer"), ("--lr_scheduler", "--model.scheduler")):
        if option == lightnings or option.startswith(f"{lightnings}."):
            argument = option != lightnings and lightnings == "--lr_scheduler"  # of a schedule the config may not have
            return ours + option.removeprefix(lightnings) + " (after --model.scheduler CLASS)" * argument
    if option.rpartition(".")[2] == "lr":  # --model.lr, --net.lr: the optimizer's
        return "--model.optimizer.init_args.lr"
    return near_option(option, options)


def option_of_a_file(word: str, prog: str, line: list[str]) -> str | None:
    """The option a file given alone on the command ``line`` of ``prog`` was meant for, by its kind: one that
    takes a single value is no answer where the line gives it already (``a.png --data.predict_path=b.png``)."""
    suffix = Path(word).suffix.lower()
    if suffix in (".yaml", ".yml", ".json") and not prog.endswith(" export"):
        return "--config"  # one of several
    if suffix == ".ckpt":
        option = "--ckpt_path"
    elif prog.endswith(" predict") and (Path(word).is_dir() or suffix in images.image_suffixes()):
        option = "--data.predict_path"
    else:
        return None
    return None if any(given.partition("=")[0] == option for given in line) else option


def near_option(option: str, options: list[str]) -> str | None:
    """The option of ``options`` spelled nearest to ``option`` (``--trainer.max_epochz``), if near enough;
    export's parser's too."""
    # Not a class's help, nor a group's own option (--model FILE), nor what a near name would mislead to.
    groups = {o.rpartition(".")[0] for o in options if not o.endswith(".help")}  # a class option has .help alone
    shown = [o for o in options if not o.endswith(".help") and o not in groups and o != "--weights_only"]
    shown = [o for o in shown if not (o.endswith("+") and o[:-1] in shown)]  # += adds to the recipe's: not offered
    keys, typed = [o.replace("-", "_") for o in shown], option.replace("-", "_")
    # One it begins alone (--ckpt), as argparse's abbreviations, which are off, would have taken it: before a
    # spelling near another (--trainer.max_ep was said to be --trainer.max_steps); else that spelling.
    near = [key for key in keys if key.startswith(typed)]
    near = near if len(near) == 1 else difflib.get_close_matches(typed, keys, n=1, cutoff=0.85)
    # A group's option without its group (--max_epochs, predict's --output): the one option of that name.
    near = near or [key for key in keys if key.rpartition(".")[2] == typed.removeprefix("__")]
    meant = shown[keys.index(near[0])] if len(near) == 1 else None
    # --trainer.callback+=: the += form (plain --trainer.callbacks replaces the recipe's callbacks; an audit).
    return f"{meant}+" if meant and option.endswith("+") and f"{meant}+" in options else meant


# Where a class option's short names come from (jsonargparse resolves them among the subclasses these
# modules define): where a misspelled one is looked for.
_CLASS_HOMES = {
    "--model.net": ("mnist_pl.nets",),
    "--data.augment": ("mnist_pl.augment", "torchvision.transforms.v2"),
    "--model.optimizer": ("torch.optim",),
    "--model.scheduler": ("torch.optim.lr_scheduler",),
    "--trainer.callbacks": ("lightning.pytorch.callbacks", "mnist_pl.callbacks"),
    "--trainer.logger": ("lightning.pytorch.loggers",),
}


def _class_meant(line: str) -> str | None:
    """The class a class path of none (``mnist_pl.nets.Lenet``, ``EarlyStop``) was probably meant to be."""
    # A module's missing name, or a package's missing module (torchvision.transform.v2.RandomRotation)
    missing = re.search(r"module '([\w.]+)' has no attribute '(\w+)'", line)
    wrong = missing or re.search(r"No module named '([\w.]+)\.(\w+)'", line)
    if wrong and (rest := re.search(rf"\b{re.escape(wrong[1])}\.{wrong[2]}((?:\.\w+)+)", line)):
        return _module_meant(wrong[1], wrong[2], rest[1])
    # The class path given (after --<option>.help too), not a name its module's code uses
    if missing and (f"{missing[1]}.{missing[2]}" in line or re.match(r"--[\w.]+\.help: module ", line)):
        homes, name = (missing[1],), missing[2]
    # A class asked for help of (--model.net.help Lenet)
    elif (asked := re.match(r"(--[\w.]+)\.help: Expected a dot import path string: (\w+)$", line)) and (
        asked[1] in _CLASS_HOMES
    ):
        homes, name = _CLASS_HOMES[asked[1]], asked[2]
    # A class option's value that names no class: a logger's (Iterable or bool or None) is not read as a class path.
    elif (wrong := re.match(r"(--[\w.]+)(?: (\w+))?: expected ", line)) and wrong[1] in _CLASS_HOMES:
        given = wrong[2] or next((w.partition("=")[2] for w in COMMAND_LINE if w.startswith(f"{wrong[1]}=")), None)
        if given is None and wrong[1] in COMMAND_LINE[:-1]:
            given = COMMAND_LINE[COMMAND_LINE.index(wrong[1]) + 1]
        homes, name = _CLASS_HOMES[wrong[1]], given
    else:
        return None
    classes = {}
    for home in homes:
        try:
            module = importlib.import_module(home)
        except ImportError:
            continue
        found = (n for n, value in vars(module).items() if isinstance(value, type) and not n.startswith("_"))
        for n in found:  # the first home's (Lightning's LearningRateFinder, not mnist_pl.callbacks' import of it)
            classes.setdefault(n.lower(), f"{home}.{n}")
    name = (name or "").lower()
    # Or two letters swapped: difflib scores a short name's (SDG for SGD: 0.67) under its cutoff.
    swapped = [c for c in classes if sorted(c) == sorted(name) and sum(map(str.__ne__, c, name)) == 2]
    near = difflib.get_close_matches(name, list(classes), n=1, cutoff=0.75) or swapped
    return classes[near[0]] if near else None


def _module_meant(parent: str, name: str, rest: str) -> str | None:
    """A class path with a module on the way misspelt (``torch.optm.SGD``): the same path through the
    nearest name in ``parent`` that holds the class. (The nearest class in ``parent`` itself was suggested:
    ``lightning.pytorch.Callback`` for ``lightning.pytorch.callback.EarlyStopping``.)"""
    try:
        module = importlib.import_module(parent)
    except ImportError:
        return None
    names = set(dir(module)) | {sub.name for sub in pkgutil.iter_modules(getattr(module, "__path__", []))}
    for near in difflib.get_close_matches(name, sorted(names), n=3, cutoff=0.75):
        path = f"{parent}.{near}{rest}"
        home, _, cls = path.rpartition(".")
        with contextlib.suppress(ImportError):
            if isinstance(getattr(importlib.import_module(home), cls, None), type):
                return path
    return None


def _class_fix(line: str) -> str | None:
    """The fix of a class option's error that names none: the class meant, where a module of one's own
    is imported from, the required argument's option."""
    if meant := _class_meant(line):
        return f"did you mean {meant}?"
    given = re.search(r"class_path '([\w.]+)'", line) or re.match(r"--[\w.]+ ([\w.]+): No module named", line)
    missing = re.search(r"No module named '(\w+)'$", line)
    if missing and given and given[1].split(".")[0] == missing[1]:  # not a package its module imports
        return (
            f"a module of your own ({missing[1]}) is imported from the folder the command runs in: "
            "run it there, or give its folder in PYTHONPATH"
        )
    if other := re.match(r"(--[\w.]+) [\w.]+: not a subclass of ", line):
        homes = _CLASS_HOMES.get(other[1], ())
        return "give the class path of one" + (f", such as a class of {' or '.join(homes)}" if homes else "")
    if required := re.match(r"(--[\w.]+):(?: Problem with .*?:)? the following arguments are required: (\w+)", line):
        if required[2] == "schedulers":  # SequentialLR's: "give --model.scheduler.schedulers", which no config can
            return (
                "the schedule chains schedules built on the model's optimizer, which no config can give: give one "
                "schedule (OneCycleLR warms up, then decays)"
            )
        return f"give {required[1]}.{required[2]}"
    return None


def _with_class_arguments(short: Any, full: Any) -> None:
    """Each class of ``short`` (a config printed without defaults) given all its arguments from ``full``."""
    if isinstance(short, dict) and isinstance(full, dict):
        if "class_path" in short and "init_args" in full:
            short["init_args"] = full["init_args"]
            return
        for key, value in short.items():
            _with_class_arguments(value, full.get(key))
    elif isinstance(short, list) and isinstance(full, list) and len(short) == len(full):
        for value, whole in zip(short, full, strict=True):
            _with_class_arguments(value, whole)


# Sphinx roles (":paramref:`~lightning.pytorch.trainer.trainer.Trainer.callbacks`"): "~" keeps the last name.
_ROLE = re.compile(r":\w+:`(~?)([^`]+)`")


def without_markup(text: str) -> str:
    """Help text without the reStructuredText of Lightning's and torch's docstrings, which argparse prints as
    written: ``True``, roles broken over two lines, ".. note::"."""
    text = _ROLE.sub(lambda role: role[2].rsplit(".", 1)[-1] if role[1] else role[2], text)
    text = re.sub(r"\.\. (\w+)::", lambda directive: f"{directive[1].capitalize()}:", text)
    return re.sub(r"``(.+?)``", r"\1", text, flags=re.DOTALL)


class PlainHelpFormatter(DefaultHelpFormatter):
    """jsonargparse's help, each option's text and each group's heading and description ``without_markup``."""

    def start_section(self, heading: str | None) -> None:
        super().start_section(heading and without_markup(heading))

    def _split_lines(self, text: str, width: int) -> list[str]:
        return super()._split_lines(without_markup(text), width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return super()._fill_text(without_markup(text), width, indent)


class MNISTArgumentParser(LightningArgumentParser):
    """LightningCLI's parser; its errors, a YAML syntax error in a config file included, are one line."""

    # The main parser: the parser of the subcommand on its command line (MNISTCLI sets it).
    subcommand_parser: "MNISTArgumentParser | None" = None

    # The program's name in every usage line, the main parser's and that of jsonargparse's class help
    # (--model.net.help LeNet), which it builds itself: argparse's is sys.argv[0], "__main__.py" under
    # `python -m mnist_pl`, whose main() sets this.
    default_prog: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("prog") is None and self.default_prog is not None:
            kwargs["prog"] = self.default_prog
        kwargs.setdefault("formatter_class", PlainHelpFormatter)
        super().__init__(*args, **kwargs)

    def dump(self, cfg: Namespace, *args: Any, skip_default: bool = False, **kwargs: Any) -> str:
        """``--print_config=skip_default`` keeps every argument of a class it names: jsonargparse left out those
        equal to the class's own defaults, and read back, the option's default class (Adam) gave the values
        both share (example.yaml's Adadelta took Adam's eps, 1e-08, for its own 1e-06: 10x smaller first
        steps). With comments, which say each default, the whole config."""
        skip_default = skip_default and not kwargs.get("with_comments")
        yaml_text = not args and kwargs.get("format", "parser_mode") == "parser_mode" and self.parser_mode == "yaml"
        if not skip_default or not yaml_text:
            return super().dump(cfg, *args, skip_default=skip_default, **kwargs)
        short = super().dump(cfg, skip_default=True, **kwargs)
        tree = _yaml(short)
        _with_class_arguments(tree, _yaml(super().dump(cfg, **kwargs)))
        header = "".join(itertools.takewhile(lambda line: line.startswith("#"), short.splitlines(keepends=True)))
        return header + yaml.safe_dump(tree, sort_keys=False)

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if self.subcommand_parser is not None and self.exit_on_error and one_line(message).startswith("--"):
            # An option of the subcommand found wrong after its own parse (a required class argument
            # left out): under the subcommand's one-line usage, not the main parser's list of subcommands.
            self.subcommand_parser.error(message, ex)
        # A config of a subcommand's settings before the subcommand: jsonargparse named an option of
        # the file's (or one the app sets), never typed, and not where the file goes.
        before = re.match(r"Option '[\w.]+' is not accepted before subcommand '(\w+)'", message)
        if before and CONFIG_FILES:
            path, subcommand = CONFIG_FILES[-1], before[1]
            message = (
                f"{path}: settings of {subcommand}, given before it: put --config after {subcommand} "
                f"({self.prog} {subcommand} --config {path}), or them under '{subcommand}:' in the file"
            )
        words = left[1].split() if (left := re.match(r"unrecognized arguments: (.*)", message)) else []
        if glob := globbed(left[1] if left else ""):
            message = glob
        elif unknown := [word for word in words if word.startswith("--")]:
            options = [o for o in (self.subcommand_parser or self)._option_string_actions if o.startswith("--")]
            if meant := _meant(unknown[0], options):
                message += f": {unknown[0].partition('=')[0]} here is {meant}"
            elif unknown[0].startswith("--predictions."):  # the CSV's: predict's only
                message += f": {unknown[0].partition('=')[0]} is an option of predict"
        elif words and words[0] in LightningCLI.subcommands():  # fit test --config ...
            message += f": {words[0]} is a subcommand of its own: run one at a time (fit tests its best checkpoint)"
        elif words and (option := option_of_a_file(words[0], (self.subcommand_parser or self).prog, COMMAND_LINE)):
            message += f": give it as {option} {words[0]}"
        # The main parser's: its subcommands and export, which __main__ runs before any parser.
        every = f"{', '.join(LightningCLI.subcommands())} or export"
        if message.startswith('expected "subcommand" to be one of'):
            message = f"give a subcommand: {every}"
        elif invalid := re.match(r"argument subcommand: invalid choice: '(.*)' \(choose from", message):
            message = f"{invalid[1]} is no subcommand: give {every}, then its options"
            if invalid[1] in ("table", "bench"):  # tools of their own modules
                message = f"{invalid[1]} is no subcommand: it is a tool of its own: python -m mnist_pl.{invalid[1]}"
            # The value of a misspelt option before it (--confi configs/lenet.yaml fit), taken for the subcommand.
            at = COMMAND_LINE.index(invalid[1]) if invalid[1] in COMMAND_LINE else 0
            if at and (before := COMMAND_LINE[at - 1]).startswith("--") and "=" not in before:
                meant = near_option(before, [o for o in self._option_string_actions if o.startswith("--")])
                asked = f": did you mean {meant}?" if meant else ""
                message = (
                    f"{before} is no option here{asked}: give the subcommand first, then its options "
                    f"(fit {meant or before} {invalid[1]})"
                )
        # Nested parsers (a class's init arguments) raise to the top one, which prints and exits.
        if self.exit_on_error and (fix := _class_fix(line := one_line(message))):
            message = f"{line}: {fix}"
        options = [o for o in (self.subcommand_parser or self)._option_string_actions if o.startswith("--")]
        if self.exit_on_error:
            message = _in_config_file(one_line(message), message, options)
            # "--model.optimizer.init_args.lr nan: expected float": a float, said of one (YAML reads nan as a word).
            message = re.sub(
                r"( [+-]?(?:nan|inf|infinity)): expected ([^:]*float)", r"\1: expected a finite \2", message, flags=re.I
            )
        super().error(message, ex)

    def parse_path(self, path: str | os.PathLike, *args, **kwargs) -> Namespace:
        CONFIG_FILES.append(Path(path))
        _READ_FROM[Path(path)] = Path(path).absolute()
        try:
            loaded = _settings_in(path)
        except OSError:  # a missing file jsonargparse reports well itself
            return super().parse_path(path, *args, **kwargs)
        # jsonargparse says only "Unexpected config" for a file that is not a mapping, and a section
        # that is a number or list fails in a traceback when the classes are built.
        if not isinstance(loaded, dict):
            holds = "nothing" if loaded is None else f"a {type(loaded).__name__}"
            raise TypeError(f"{path}: holds {holds}, not settings (trainer:, model:, data:, ...): fix the file")
        subcommands = ((k, v) for k, v in loaded.items() if k in LightningCLI.subcommands())  # a main parser's file
        for parent, section in [(None, loaded), *subcommands]:
            for key in set(_GROUPS) & (section.keys() if isinstance(section, dict) else set()):
                where = f"{parent}.{key}" if parent else key
                if section[key] is None:  # a traceback as the classes were built, or "Unexpected config"
                    raise TypeError(f"{path}: {where}: is empty: give its settings, or leave the key out")
                if not isinstance(section[key], dict | str):
                    raise TypeError(f"{path}: {where}: {section[key]!r} is not its settings (a mapping): fix the file")
                if empty := _empty_init_args(section[key]):  # "'NoneType' object has no attribute 'keys'"
                    raise TypeError(f"{path}: {where}.{empty}: is empty: give its arguments, or leave the key out")
        return super().parse_path(path, *args, **kwargs)


def _settings_in(path: str | os.PathLike) -> Any:
    """A YAML file's contents; one line where it is not YAML. jsonargparse parses the file's text as a
    string: its message names '"<unicode string>"' instead of the file and spans four lines."""
    try:
        text = Path(path).read_text()
        return yaml.load(text, Loader=_UniqueKeys)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise TypeError(f"{path}: not valid YAML{where}: {err.problem}: fix the file") from err
    except yaml.reader.ReaderError as err:  # a control character: its place is an offset into the text
        line, column = text.count("\n", 0, err.position) + 1, err.position - text.rfind("\n", 0, err.position)
        character = f"#x{err.character:04x}" if isinstance(err.character, int) else repr(err.character)
        raise TypeError(
            f"{path}: not valid YAML at line {line}, column {column}: unacceptable character {character}: fix the file"
        ) from err
    except UnicodeDecodeError as err:
        raise TypeError(f"{path}: not a text file (UTF-8): give a YAML config") from err


def _empty_init_args(settings: object, where: str = "") -> str | None:
    """The dotted key of the first ``init_args:`` left empty (null) in ``settings``, if any."""
    items = settings.items() if isinstance(settings, dict) else []
    for key, value in items:
        if key == "init_args" and value is None:
            return f"{where}init_args"
        for i, each in enumerate(value) if isinstance(value, list) else [(None, value)]:
            if found := _empty_init_args(each, f"{where}{key}{'' if i is None else f'[{i}]'}."):
                return found
    return None


class _UniqueKeys(_Yaml12):
    """YAML's loader, refusing a key written twice in a mapping: PyYAML keeps the last one silently,
    and the first, the one a reader sees, was not the setting that ran. (YAML forbids it too.)

    Checked on the composed nodes, before any merge (``<<``) is flattened into them: a merged key
    may be overridden, and a flattened mapping that is merged again would show its keys twice.
    """

    def get_single_node(self) -> yaml.Node | None:
        root = super().get_single_node()
        seen: set[int] = set()  # an anchored node aliased again is the same node: checked once
        todo = [root] if root is not None else []
        while todo:
            node = todo.pop()
            if id(node) in seen or isinstance(node, yaml.ScalarNode):
                continue
            seen.add(id(node))
            if isinstance(node, yaml.MappingNode):
                self._refuse_a_key_twice(node)
                todo += [part for pair in node.value for part in pair]
            else:
                todo += node.value
        return root

    def _refuse_a_key_twice(self, mapping: yaml.MappingNode) -> None:
        first: dict[tuple[str, str], yaml.Node] = {}
        for key_node, _ in mapping.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue  # a complex key is refused by yaml itself
            key = (key_node.tag, key_node.value)  # as resolved, not constructed: no constructor error here
            if key in first:
                self._twice(key_node, first[key])
            first[key] = key_node
        # A dotted key (trainer.max_epochs: 3) is read as the nested one: written both ways, one was lost.
        for key_node, _ in mapping.value:
            parts = str(key_node.value).split(".") if isinstance(key_node, yaml.ScalarNode) else []
            if len(parts) > 1 and (nested := _key_inside(mapping, parts)) is not None:
                self._twice(key_node, nested)

    @staticmethod
    def _twice(key_node: yaml.Node, first: yaml.Node) -> None:
        lines = sorted({first.start_mark.line + 1, key_node.start_mark.line + 1})
        where = f"at lines {lines[0]} and {lines[1]}" if len(lines) == 2 else f"at line {lines[0]}"
        raise yaml.constructor.ConstructorError(
            problem=f"{key_node.value} written twice ({where})", problem_mark=key_node.start_mark
        )


def _key_inside(mapping: yaml.MappingNode, parts: list[str]) -> yaml.Node | None:
    """The key node written at ``parts`` (trainer, max_epochs) in the nested mappings of ``mapping``, if any."""
    key, node = None, mapping
    for part in parts:
        inside = node.value if isinstance(node, yaml.MappingNode) else []
        key, node = next(
            ((k, v) for k, v in inside if isinstance(k, yaml.ScalarNode) and k.value == part), (None, None)
        )
        if key is None:
            return None
    return key


_jsonargparse_yaml = get_loader("yaml")


def _yaml_without_keys_twice(stream: str) -> Any:
    """jsonargparse's YAML loader, for group files (--data my.yaml) and values typed (--config '{...}')
    too: a key written twice refused, as in a --config file."""
    yaml.compose(stream, Loader=_UniqueKeys)
    return _jsonargparse_yaml(stream)


def refuse_keys_written_twice() -> None:
    """jsonargparse's YAML loader, process-wide: set by each MNISTCLI, not on import."""
    set_loader("yaml", _yaml_without_keys_twice, exceptions=(yaml.YAMLError,))
    _no_base_60(get_yaml_default_loader())
