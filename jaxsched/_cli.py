"""The ``jaxsched`` command line: list, show, describe, plot and config.

A schedule is given either by name with ``key=value`` arguments
(``jaxsched show warmup_cosine peak_value=3e-4 total_steps=10000
warmup_steps=500``) or by a config file (``--config sched.json``, or the
file's path in place of the name). Values are read as JSON (numbers, lists,
``true``/``false``/``null``), then as Python-style numbers (``1_000``,
``inf``), else as plain strings. Nothing is evaluated as code.

Errors are printed as one line on stderr. Exit status: 0 on success; 2 when
the command line itself is malformed (an unknown command or option, a
missing argument: argparse's convention, and ``jaxsched`` with no command);
1 when it parses but what it names is wrong (an unknown schedule, a bad
value, an unreadable config file); 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

PROG = "jaxsched"
_CONFIG_SUFFIXES = (".json", ".yaml", ".yml", ".toml")

_EPILOG = """\
examples:
  jaxsched list
  jaxsched show warmup_cosine peak_value=3e-4 total_steps=10000 warmup_steps=500 --steps 0:10000:1000
  jaxsched describe wsd peak_value=1e-3 total_steps=10000 warmup_steps=500 decay_shape=1-sqrt
  jaxsched plot sgdr peak_value=0.1 period=1000 period_mult=2 --steps 7000 -o sgdr.png
  jaxsched config onecycle peak_value=0.1 total_steps=1000 > onecycle.json
  jaxsched show --config onecycle.json
"""


class CLIError(Exception):
    """A user error: printed as one line, exit status 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not usage + message
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _kwargs(pairs: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in pairs:
        if "=" not in item:
            raise CLIError(f"expected key=value, got {item!r}")
        k, v = item.split("=", 1)
        k = k.strip()
        if not k.isidentifier():
            raise CLIError(f"invalid argument name {k!r} in {item!r}")
        if k in out:
            raise CLIError(f"argument {k!r} given twice")
        out[k] = _parse_value(v)
    return out


# YAML 1.1 (PyYAML) reads ``1e-3`` as a string: its floats need a dot and a signed exponent. YAML 1.2, JSON
# and OmegaConf read it as a number, and so does this loader (``peak_value: 1e-3`` was refused as a string).
_YAML_FLOAT = r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"


def _yaml_loader(yaml: Any) -> Any:
    """``yaml.SafeLoader`` that also reads exponents without a dot or a sign (``1e-3``, ``2E5``) as floats."""
    import re

    class Loader(yaml.SafeLoader):  # type: ignore[misc,name-defined]
        pass

    Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(_YAML_FLOAT), list("-+0123456789."))
    return Loader


def _load_file(path: str) -> Any:
    from . import _config as C

    if path == "-":
        return C.from_json(sys.stdin.read())
    if not os.path.isfile(path):
        raise CLIError(f"no such config file: {path}")
    low = path.lower()
    if low.endswith((".yaml", ".yml")):
        try:
            import yaml
        except ImportError:
            raise CLIError("reading YAML configs needs PyYAML (pip install pyyaml); or use JSON") from None
        with open(path, encoding="utf-8") as fh:
            try:
                data = yaml.load(fh, Loader=_yaml_loader(yaml))  # a SafeLoader: builds no Python objects
            except yaml.YAMLError as e:
                raise CLIError(f"invalid YAML in {path}: {' '.join(str(e).split())}") from None
        return C.from_config(data)
    if low.endswith(".toml"):
        try:
            import tomllib
        except ImportError:
            raise CLIError("reading TOML configs needs Python 3.11 or later; or use JSON") from None
        with open(path, "rb") as fh:
            try:
                data = tomllib.load(fh)
            except tomllib.TOMLDecodeError as e:
                raise CLIError(f"invalid TOML in {path}: {e}") from None
        return C.from_config(data)
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        return C.from_json(raw)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def _schedule(args: argparse.Namespace) -> tuple[Any, str]:
    """The schedule (or grid) the arguments describe, and a title for it."""
    from ._registry import get

    name, rest, config = args.name, list(args.args), args.config
    if config is not None:
        if name is not None:
            rest = [name] + rest
        if rest:
            raise CLIError(f"give a config file or a name with key=value arguments, not both (extra: {' '.join(rest)})")
        return _load_file(config), os.path.basename(config)
    if name is None:
        raise CLIError("missing schedule: give a name (see 'jaxsched list') or --config FILE")
    if name.lower().endswith(_CONFIG_SUFFIXES) or name == "-":
        if rest:
            raise CLIError(f"a config file takes no key=value arguments (got {' '.join(rest)})")
        return _load_file(name), os.path.basename(name)
    if "=" in name:
        raise CLIError(f"the first argument must be a schedule name, got {name!r} (see 'jaxsched list')")
    return get(name, **_kwargs(rest)), name


def _steps_spec(spec: str | None, default_until: int, boundaries: Sequence[float] = ()) -> list[int]:
    if spec is None:
        pts = {int(round(x)) for x in _linspace(0, default_until, 11)}
        pts |= {int(math.ceil(b)) for b in boundaries if 0 <= b <= default_until}
        return sorted(pts)
    spec = spec.strip()
    try:
        if ":" in spec:
            parts = [p.strip() for p in spec.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError
            start, stop = int(parts[0] or 0), int(parts[1])
            step = int(parts[2]) if len(parts) == 3 and parts[2] else max(1, (stop - start) // 10)
            if step <= 0 or stop < start:
                raise ValueError
            out = range(start, stop + 1, step)  # its length is checked before a list is built
        elif "," in spec:
            out = [int(p) for p in spec.split(",") if p.strip()]
        else:
            n = int(spec)
            if n < 0:
                raise ValueError
            out = sorted({int(round(x)) for x in _linspace(0, n, 11)})
    except ValueError:
        raise CLIError(
            f"--steps must be N (11 steps over 0..N), a list 0,10,100 or a range START:STOP[:STEP], got {spec!r}"
        ) from None
    if len(out) > 100_000:
        raise CLIError(f"--steps gives {len(out)} steps; at most 100000")
    if not out or min(out) < 0:
        raise CLIError(f"--steps must give non-negative steps, got {spec!r}")
    if max(out) > _MAX_STEP:
        raise CLIError(f"--steps must give steps up to {_MAX_STEP} (the int32 range), got {spec!r}")
    return list(out)


_MAX_STEP = 2**31 - 1


def _linspace(a: float, b: float, n: int) -> list[float]:
    return [a + (b - a) * i / (n - 1) for i in range(n)]


def _fmt(v: Any) -> str:
    """The shortest text that reads back to the same value of its own dtype."""
    import numpy as np

    if isinstance(v, np.floating):
        return str(v) if np.isfinite(v) else str(float(v))
    return f"{float(v):.8g}"


def _fmt_step(x: float) -> str:
    if math.isinf(x):
        return "inf"
    r = round(x)
    return str(int(r)) if abs(x - r) <= 1e-3 * max(1.0, abs(x)) else f"{x:.6g}"


def _horizon_and_bounds(obj: Any) -> tuple[int, list[float]]:
    from ._grid import Grid
    from ._plot import horizon, phases

    if isinstance(obj, Grid):
        members = [obj[i] for i in range(len(obj))]
    else:
        members = [obj]
    try:
        h = max(horizon(m) for m in members)
        bounds = sorted({p.start for m in members for p in phases(m, h) if p.start > 0})
    except ValueError:  # a batched schedule without a grid: no structure to read
        return 100, []
    return h, bounds


def _is_batch(obj: Any) -> bool:
    from ._grid import Grid

    return isinstance(obj, Grid)


def _eval(obj: Any, steps: Sequence[int]) -> tuple[Any, tuple[int, ...]]:
    """``(values, batch shape)``: one row of values per member (row-major), and the batch's shape (``()`` for one)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from ._base import Schedule
    from ._config import _batch_shape_of
    from ._plot import _at, _at_batch

    k = jnp.asarray(np.minimum(np.asarray(steps, np.int64), 2**31 - 1).astype(np.int32))
    if _is_batch(obj):
        return np.asarray(_at_batch(obj.schedules, k)), (len(obj),)
    assert isinstance(obj, Schedule)
    bs = _batch_shape_of(obj)
    if bs:  # members in row-major order (a batch of 3 x 2 settings: 6 columns)
        flat = jax.tree_util.tree_map(lambda x: jnp.reshape(x, (-1, *jnp.shape(x)[len(bs):])), obj)
        return np.asarray(_at_batch(flat, k)), bs
    return np.asarray(_at(obj, k))[None], ()


def cmd_list(args: argparse.Namespace) -> int:
    from ._registry import catalog

    groups = {
        "preset": "presets",
        "primitive": "primitives",
        "combinator": "combinators",
        "transformers": "transformers names (HuggingFace lr_scheduler_type; 'hf:' prefix)",
    }
    rows = catalog()
    width = max(len(n) for n, _, _ in rows)
    out = []
    for kind, title in groups.items():
        out.append(f"{title}:")
        for n, k, summary in rows:
            if k == kind:
                out.append(f"  {n:<{width}}  {summary}")
        out.append("")
    out.append("Use 'jaxsched show NAME key=value ...'; the arguments are those of jaxsched.NAME (docs/api.md).")
    print("\n".join(out))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    obj, title = _schedule(args)
    until, bounds = _horizon_and_bounds(obj)
    steps = _steps_spec(args.steps, until, bounds)
    vals, bs = _eval(obj, steps)
    n = vals.shape[0]
    head = ["step"] + (["value"] if n == 1 else [str(i) for i in range(n)])
    rows = [[str(k)] + [_fmt(vals[j, i]) for j in range(n)] for i, k in enumerate(steps)]
    widths = [max(len(head[c]), *(len(r[c]) for r in rows)) for c in range(len(head))]
    lines = []
    if _is_batch(obj):
        for i in range(len(obj)):
            lines.append(f"# {i}: " + ", ".join(f"{k}={v}" for k, v in obj.row(i).items()))
    elif n > 1:
        lines.append(f"# a batch of {n} schedules" + (f" (batch shape {list(bs)}, row-major)" if len(bs) > 1 else ""))
    lines.append("  ".join(h.rjust(w) for h, w in zip(head, widths)))
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in rows]
    print("\n".join(lines))
    return 0


def cmd_describe(args: argparse.Namespace) -> int:
    from ._base import Schedule
    from ._config import _batch_shape_of
    from ._plot import describe

    obj, title = _schedule(args)
    if _is_batch(obj) or (isinstance(obj, Schedule) and _batch_shape_of(obj)):
        raise CLIError("describe takes one schedule, not a batch; use 'jaxsched show' for a grid")
    until = None
    if args.until is not None:
        if args.until < 0:
            raise CLIError(f"--until must be >= 0, got {args.until}")
        until = args.until
    d = describe(obj, until)

    def fv(v: float) -> str:
        import numpy as np

        return _fmt(np.asarray(v, obj.dtype)[()])

    ph = d["phases"]
    w = max([len(_fmt_step(p.start)) for p in ph] + [len(_fmt_step(p.end)) for p in ph] + [1])
    lines = [f"schedule:   {title} ({type(obj).__name__})", f"steps:      0..{d['until']}", "phases:"]
    for p in ph:
        lines.append(f"  [{_fmt_step(p.start).rjust(w)}, {_fmt_step(p.end).rjust(w)})  {p.label}")
    b = ", ".join(_fmt_step(x) for x in d["boundaries"]) or "none"
    lines += [
        f"boundaries: {b}",
        f"min:        {fv(d['min'])} (first at step {d['argmin']})",
        f"max:        {fv(d['max'])} (first at step {d['argmax']})",
        f"end:        {fv(d['end'])} (at step {d['until']})",
    ]
    print("\n".join(lines))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from ._plot import _need_matplotlib, plot

    _need_matplotlib()
    from matplotlib.figure import Figure

    obj, title = _schedule(args)
    steps = None
    if args.steps is not None:
        if args.steps < 1:
            raise CLIError(f"--steps must be >= 1, got {args.steps}")
        steps = args.steps
    out = args.output or "schedule.png"
    if not out.lower().endswith(".png"):
        raise CLIError(f"the output must be a .png file, got {out!r}")
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.subplots()
    plot(obj, steps, ax=ax, title=args.title if args.title is not None else title, logy=args.log)
    try:
        fig.savefig(out, dpi=args.dpi)
    except OSError as e:
        raise CLIError(f"cannot write {out}: {e.strerror or e}") from None
    print(f"wrote {out}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from ._config import to_json

    obj, _ = _schedule(args)
    print(to_json(obj, indent=2))
    return 0


def _add_schedule_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="a schedule name from 'jaxsched list', or a config file (.json/.yaml/.toml)")
    p.add_argument("args", nargs="*", metavar="key=value", help="the factory's arguments, e.g. peak_value=3e-4")
    p.add_argument("-c", "--config", metavar="FILE", help="read the schedule from a config file ('-' for stdin JSON)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description=(
            "Learning-rate schedules as data: list them, print their values, describe and plot them.\n\n"
            "A schedule is a name from 'jaxsched list' followed by its arguments as key=value\n"
            "(values are JSON: 3e-4, [10, 20], true, null; or plain words: decay_shape=1-sqrt),\n"
            "or a config file (.json written by 'jaxsched config' or jaxsched.to_json, .toml, .yaml)."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("list", help="every schedule name with one line each", description="List every schedule name.")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "show",
        help="values at chosen steps, as a table",
        description=(
            "Print the schedule's values at chosen steps (default: 11 steps over its horizon, and its boundaries)."
        ),
    )
    _add_schedule_args(p)
    p.add_argument(
        "-s", "--steps", metavar="SPEC", help="N (11 steps over 0..N), a list 0,10,100, or START:STOP[:STEP]"
    )
    p.set_defaults(func=cmd_show)

    p = sub.add_parser(
        "describe",
        help="phases, boundaries, min, max and the value at the end",
        description="Describe the schedule: its phases and boundaries, its range and its value at the end.",
    )
    _add_schedule_args(p)
    p.add_argument(
        "-u", "--until", type=int, metavar="N", help="look at steps 0..N (default: where the last phase ends)"
    )
    p.set_defaults(func=cmd_describe)

    p = sub.add_parser("plot", help="write a PNG plot", description="Plot the schedule (phases marked) to a PNG file.")
    _add_schedule_args(p)
    p.add_argument("-s", "--steps", type=int, metavar="N", help="plot steps 0..N (default: where the last phase ends)")
    p.add_argument("-o", "--output", metavar="FILE.png", help="the PNG to write (default: schedule.png)")
    p.add_argument("--title", help="the plot title (default: the name)")
    p.add_argument("--log", action="store_true", help="a logarithmic value axis")
    p.add_argument("--dpi", type=int, default=120, help="resolution (default: 120)")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser(
        "config",
        help="print the schedule as a JSON config",
        description="Print the exact JSON config of a schedule (read back with --config or jaxsched.from_json).",
    )
    _add_schedule_args(p)
    p.set_defaults(func=cmd_config)
    return parser


def _one_line(e: BaseException) -> str:
    msg = " ".join(str(e).split())
    return msg or type(e).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 on success).

    >>> from jaxsched._cli import main
    >>> main(["show", "linear", "init_value=1", "end_value=0", "steps=4", "--steps", "0,2,4"])
    step  value
    ----  -----
       0    1.0
       2    0.5
       4    0.0
    0
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # key=value arguments given after an option land here: take them back
        bad = [e for e in extra if e.startswith("-") or "=" not in e or not hasattr(args, "args")]
        if bad:
            parser.error(f"unrecognized arguments: {' '.join(bad)}")
        args.args = list(args.args) + extra
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except BrokenPipeError:  # e.g. piped into head: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except (CLIError, ValueError, TypeError, OSError, ImportError) as e:
        print(f"{PROG}: error: {_one_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # never a traceback; JAXSCHED_DEBUG=1 shows it
        if os.environ.get("JAXSCHED_DEBUG"):
            raise
        print(
            f"{PROG}: internal error: {type(e).__name__}: {_one_line(e)} (set JAXSCHED_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return 1
