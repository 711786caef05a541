"""Test helper: run many CLI invocations in subprocesses, paying the imports (torch, ...) once.

``python -m MODULE ARGS`` costs 2-4 s of imports per call on the CI machine, which a table of
dozens of bad inputs cannot afford. :func:`run_clis` starts ONE ``sys.executable`` process that
imports the heavy dependencies (not the CLI modules themselves), then forks a child per case;
the child runs the module exactly as ``python -m MODULE ARGS`` does (``runpy.run_module(...,
run_name="__main__", alter_sys=True)``; a script as ``python SCRIPT ARGS`` does) in the case's folder, with its own stdout and stderr, and
reports how it ended. An exception escaping the CLI is printed as the interpreter would (a
``Traceback``) with exit status 1, so nothing the real command would show is hidden.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent

_RUNNER = r"""
import json, os, runpy, signal, sys, traceback
import numpy, torch, matplotlib  # the heavy imports, paid once; the CLI modules run fresh in each child
matplotlib.use("Agg")
import linear_theory.simulate, linear_theory.infonce_runs, deep_experiments.run.train, paper_figures.registry

def child(case):
    code = 1
    try:
        os.chdir(case["cwd"])
        if case["alarm"]:
            signal.alarm(case["alarm"])  # a case that starts real work is killed (SIGALRM), not waited for
        for fd, name in ((1, "stdout"), (2, "stderr")):
            os.dup2(os.open(case[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
        sys.argv = [case["module"], *case["args"]]
        try:
            if case["module"].endswith(".py"):  # a script: ``python path/to/script.py ARGS``
                sys.argv[0] = os.path.join(case["root"], case["module"])
                sys.path.insert(0, os.path.dirname(sys.argv[0]))  # as python puts the script's folder first
                runpy.run_path(sys.argv[0], run_name="__main__")
            else:
                runpy.run_module(case["module"], run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exit:
            if exit.code is None:
                code = 0
            elif isinstance(exit.code, int):
                code = exit.code
            else:
                print(exit.code, file=sys.stderr)
                code = 1
        except BaseException:
            traceback.print_exc()
            code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

results = []
for case in json.load(sys.stdin):
    pid = os.fork()
    if pid == 0:
        child(case)
    _, status = os.waitpid(pid, 0)
    results.append(os.waitstatus_to_exitcode(status))
print(json.dumps(results))
"""


@dataclass(frozen=True)
class Outcome:
    """How one CLI call ended."""

    code: int
    stdout: str
    stderr: str


def run_clis(cases: list[tuple[str, list[str], Path]], logs: Path, timeout: float = 120,
             case_timeout: int = 0) -> list[Outcome]:
    """Run ``python -m MODULE ARGS`` in folder ``CWD`` for each ``(MODULE, ARGS, CWD)``, in order.

    A ``MODULE`` ending in ``.py`` is a script, relative to the repository root (``scripts/x.py``):
    it runs as ``python ROOT/scripts/x.py ARGS`` would.

    ``logs`` is a folder for the captured output (outside the folders the cases may touch).
    ``case_timeout``: seconds after which one case is killed by SIGALRM (its code is then -14); 0: never.
    """
    logs.mkdir(parents=True, exist_ok=True)
    payload = [{"module": module, "args": list(args), "cwd": str(cwd), "root": str(_ROOT), "alarm": case_timeout,
                "stdout": str(logs / f"{i}.out"), "stderr": str(logs / f"{i}.err")}
               for i, (module, args, cwd) in enumerate(cases)]
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(_ROOT)}
    proc = subprocess.run([sys.executable, "-c", _RUNNER], input=json.dumps(payload), capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=_ROOT)
    assert proc.returncode == 0, proc.stderr
    codes = json.loads(proc.stdout.strip().splitlines()[-1])
    return [Outcome(code, Path(case["stdout"]).read_text(), Path(case["stderr"]).read_text())
            for code, case in zip(codes, payload)]
