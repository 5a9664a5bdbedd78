"""The command line end to end: ``python -m jaxsched`` in a subprocess, and ``main()`` in process.

Subprocess calls cost a JAX import each (~2 s), so there are few of them: one
per command plus the error paths that only a real process shows (exit status,
stderr, no traceback). The many error cases run through ``main()`` directly.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import jaxsched
from jaxsched._cli import main
from jaxsched._config import to_config, to_json
from jaxsched._registry import names

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("JAX_PLATFORMS", "cpu")
    env["JAX_NUMPY_DTYPE_PROMOTION"] = "strict"
    env.pop("JAXSCHED_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "jaxsched", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        input=stdin,
        timeout=120,
    )


def table(out: str) -> dict[int, list[float]]:
    """Rows of a ``show`` table: step -> values (comment and header lines skipped)."""
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0].isdigit():
            rows[int(parts[0])] = [float(x) for x in parts[1:]]
    return rows


def assert_one_line_error(p: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    err = p.stderr.strip()
    assert "Traceback" not in p.stderr and len(err.splitlines()) == 1, p.stderr
    assert err.startswith("jaxsched: error: "), err
    for n in needles:
        assert n in err, (n, err)


def f32(x: float) -> float:
    return float(np.float32(x))


# ----------------------------------------------------------------------------- subprocess: every command


def test_help() -> None:
    p = run("--help")
    assert p.returncode == 0 and p.stderr == ""
    for word in ("list", "show", "describe", "plot", "config", "examples:", "key=value"):
        assert word in p.stdout, word
    p = run("show", "--help")
    assert p.returncode == 0 and "--steps" in p.stdout and "--config" in p.stdout


def test_list_names_every_schedule() -> None:
    p = run("list")
    assert p.returncode == 0, p.stderr
    lines = {line.split()[0]: line for line in p.stdout.splitlines() if line.startswith("  ")}
    for name in names():
        assert name in lines, name
        assert len(lines[name].split()) > 2, lines[name]  # a one-line summary follows the name


def test_show_by_name_matches_the_library() -> None:
    p = run(
        "show", "warmup_cosine", "peak_value=1e-3", "total_steps=100", "warmup_steps=10", "--steps", "0,5,10,55,99,100"
    )
    assert p.returncode == 0, p.stderr
    got = table(p.stdout)
    s = jaxsched.warmup_cosine(1e-3, total_steps=100, warmup_steps=10)
    assert sorted(got) == [0, 5, 10, 55, 99, 100]
    want = np.asarray(s(np.asarray(sorted(got))), np.float64)
    have = np.asarray([f32(got[k][0]) for k in sorted(got)])
    # The shortest float32 text reads back to the float32 value (up to last-ulp differences of evaluation order).
    np.testing.assert_allclose(have, want, rtol=0, atol=1e-7 * 1e-3)


def test_config_then_show_and_describe_from_the_file(tmp_path: Path) -> None:
    p = run("config", "onecycle", "peak_value=0.1", "total_steps=1000", "three_phase=true", "anneal_strategy=linear")
    assert p.returncode == 0, p.stderr
    cfg = json.loads(p.stdout)
    s = jaxsched.onecycle(0.1, total_steps=1000, three_phase=True, anneal_strategy="linear")
    assert cfg == to_config(s)
    path = tmp_path / "onecycle.json"
    path.write_text(p.stdout)
    p = run("describe", "--config", str(path))
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "boundaries: 300, 600" in out
    assert "max:        0.1 (first at step 300)" in out
    assert "end:        " in out and "(at step 1000)" in out
    assert out.count("linear") == 3  # three phases, each linear


def test_describe_wsd() -> None:
    p = run("describe", "wsd", "peak_value=1e-3", "total_steps=10000", "warmup_steps=500", "decay_shape=1-sqrt")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    phases = [ln.split(")")[-1].strip() for ln in lines if ln.startswith("  [")]
    assert phases == ["warmup", "constant", "1-sqrt"]
    assert "boundaries: 500, 8000" in p.stdout
    assert "min:        0.0 (first at step 0)" in p.stdout
    assert "max:        0.001 (first at step 500)" in p.stdout
    assert "end:        0.0 (at step 10000)" in p.stdout


def test_show_a_batch_with_two_axes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A config of 3 x 2 settings loads in Python; the CLI refused it ("pass batch_shape= explicitly").
    import jax

    two = jaxsched.stack([jaxsched.linear(1.0, 0.0, 10), jaxsched.linear(2.0, 0.0, 20)])
    six = jax.tree_util.tree_map(lambda x: np.asarray([1.0, 2.0, 3.0], np.float32)[:, None] * np.asarray(x), two)
    path = tmp_path / "b.json"
    path.write_text(to_json(six))
    assert main(["show", str(path), "--steps", "0,5,10"]) == 0
    out = capsys.readouterr().out
    assert "# a batch of 6 schedules (batch shape [3, 2], row-major)" in out
    got = table(out)
    want = np.asarray(jax.vmap(jax.vmap(lambda s: s(np.asarray([0, 5, 10]))))(six)).reshape(6, 3)
    for j, k in enumerate([0, 5, 10]):
        np.testing.assert_array_equal(np.asarray(got[k], np.float32), want[:, j])
    assert main(["config", str(path)]) == 0 and json.loads(capsys.readouterr().out)["batch_shape"] == [3, 2]


def test_show_grid_config_file(tmp_path: Path) -> None:
    g = jaxsched.grid(jaxsched.linear_to_zero, peak_value=[1.0, 2.0], warmup_steps=[0, 10], total_steps=100)
    path = tmp_path / "grid.json"
    path.write_text(to_json(g))
    p = run("show", str(path), "--steps", "0:100:50")
    assert p.returncode == 0, p.stderr
    assert "# 3: peak_value=2.0, warmup_steps=10" in p.stdout
    got = table(p.stdout)
    want = np.asarray(g(np.asarray([0, 50, 100])))
    assert sorted(got) == [0, 50, 100]
    for j, k in enumerate([0, 50, 100]):
        np.testing.assert_allclose(np.asarray(got[k], np.float32), want[:, j], rtol=0, atol=1e-7)


def test_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    p = run(
        "plot",
        "sgdr",
        "peak_value=0.1",
        "period=100",
        "period_mult=2",
        "--steps",
        "700",
        "-o",
        "sgdr.png",
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stderr
    assert "wrote sgdr.png" in p.stdout
    data = (tmp_path / "sgdr.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 400 and height >= 200 and len(data) > 10_000


# ----------------------------------------------------------------------------- subprocess: errors


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    assert_one_line_error(
        run("show", "cosin", "init_value=1"), 1, "unknown schedule name 'cosin'", "Did you mean 'cosine'"
    )
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "jaxsched/1", "schedule": {"type": "Constant", "value": NaN}}')
    assert_one_line_error(run("describe", str(bad)), 1, "must not be NaN")
    p = run("frobnicate")
    assert p.returncode == 2 and "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert "invalid choice: 'frobnicate'" in p.stderr


# ----------------------------------------------------------------------------- in process: the many error paths


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["show"], "missing schedule"),
        (["show", "cosine", "init_value=1", "end_value=0"], "missing argument(s) steps"),
        (
            ["show", "cosine", "init_value=1", "end_value=0", "steps=10", "foo=1"],
            "unknown argument(s) foo; valid arguments",
        ),
        (["show", "cosine", "init_value=nan", "end_value=0", "steps=10"], "init_value must not be NaN"),
        (["show", "cosine", "init_value=1", "end_value=0", "steps=-10"], "steps must be >= 0.0"),
        (["show", "cosine", "init_value", "end_value=0"], "expected key=value, got 'init_value'"),
        (["show", "cosine", "1x=2"], "invalid argument name '1x'"),
        (["show", "cosine", "a=1", "a=2"], "given twice"),
        (["show", "steps=1"], "the first argument must be a schedule name"),
        (["show", "constant", "value=1", "--steps", "a:b"], "--steps must be N"),
        (["show", "constant", "value=1", "--steps", "10:0:1"], "--steps must be N"),
        # past the int range: a usage error (was an internal OverflowError); a huge range is refused by its
        # length, before a list is built
        (["show", "constant", "value=1", "--steps", "99999999999999999999"], "up to 2147483647"),
        (["show", "constant", "value=1", "--steps", "0,2147483648"], "up to 2147483647"),
        (["show", "constant", "value=1", "--steps", "0:10000000000000:1"], "at most 100000"),
        (["show", "--config", "/nonexistent/x.json"], "no such config file"),
        (["show", "--config", "x.json", "extra=1"], "not both"),
        (["describe", "constant", "value=1", "--until", "-5"], "--until must be >= 0"),
        (["plot", "constant", "value=1", "-o", "out.jpg"], "must be a .png"),
        (["plot", "constant", "value=1", "--steps", "0"], "--steps must be >= 1"),
        (["show", "hf:cosine", "num_warmup_steps=1"], "hf:cosine"),
    ],
)
def test_main_errors(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("jaxsched: error: "), err
    assert needle in err, err


def test_main_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["show", "constant", "--bogus"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "unrecognized arguments: --bogus" in err


def test_main_reads_toml_and_stdin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("tomllib")
    path = tmp_path / "s.toml"
    path.write_text('name = "linear"\ninit_value = 1.0\nend_value = 0.0\nsteps = 4\n')
    assert main(["show", "-c", str(path), "--steps", "0,2,4"]) == 0
    assert table(capsys.readouterr().out) == {0: [1.0], 2: [0.5], 4: [0.0]}
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO(to_json(jaxsched.constant(0.25))))
    assert main(["show", "-", "--steps", "7"]) == 0
    rows = table(capsys.readouterr().out)
    assert rows[0] == [0.25] and max(rows) == 7
    path.write_text("name = ")
    assert main(["show", str(path)]) == 1
    assert "invalid TOML" in capsys.readouterr().err


def test_main_reads_yaml_with_exponents_as_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # PyYAML (YAML 1.1) reads 1e-3 as the string '1e-3'; docs/recipes.md writes peak_value: 1e-3 (found by
    # fuzzing: the CLI refused it as a string, while peak_value=1e-3 on the command line worked).
    yaml = pytest.importorskip("yaml")
    path = tmp_path / "wsd.yaml"
    path.write_text("name: wsd\npeak_value: 1e-3\ntotal_steps: 1E4\nwarmup_steps: 2000\ndecay_shape: 1-sqrt\n")
    assert main(["show", str(path), "--steps", "0,5000"]) == 0
    assert table(capsys.readouterr().out) == {0: [0.0], 5000: [1e-3]}
    assert yaml.safe_load("a: 1e-3") == {"a": "1e-3"}  # PyYAML's own loader is left as it is
    path.write_text("name: constant\nvalue: 1e\n")  # not a number: still refused, naming the value
    assert main(["show", str(path)]) == 1
    assert "'1e'" in capsys.readouterr().err


def test_value_parsing() -> None:
    from jaxsched._cli import _parse_value

    assert _parse_value("1e-3") == 1e-3 and _parse_value("1_000") == 1000
    assert _parse_value("[1, 2]") == [1, 2] and _parse_value("inf") == float("inf")
    assert _parse_value("true") is True and _parse_value("None") is None
    assert _parse_value("1-sqrt") == "1-sqrt" and _parse_value("cos") == "cos"


def test_options_may_come_before_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "constant", "--steps", "0,3", "value=0.5"]) == 0
    assert table(capsys.readouterr().out) == {0: [0.5], 3: [0.5]}
