"""Deep-arm figures (paper_figures.deep): tables equal what the run folders say; missing -> skipped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deep_experiments.configs import PRESETS, build_config
from deep_experiments.run.folder import RunFolder
from featuredrop.config import save_json, to_dict
from paper_figures import deep
from paper_figures.io import load_table
from paper_figures.registry import FigureContext, default_registry, render

DATASET = "c+digits"
EPOCHS = (1, 2)


def _acc(method: str, os_: float, p: float, seed: int, task: str, epoch: int) -> float:
    """Distinct, deterministic fake accuracies."""
    base = {"expert": 0.3, "viewmaker": 0.4, "dropout": 0.5, "hierarchical": 0.6, "deshared": 0.7}[method]
    return round(base + 0.1 * os_ + 0.05 * p + 0.01 * seed + (0.02 if task == "task_b" else 0.0) + 0.003 * epoch, 6)


def _write_run(root: Path, method: str, os_: float, p: float, seed: int, *, paper: bool = False) -> Path:
    """A run folder in the exact formats of RunFolder / run.train.train / run.probe_run.probe_run."""
    config = build_config(PRESETS["smoke"], {"data": {"dataset": DATASET, "overlay_strength": os_},
                                             "train": {"seed": seed}, "views": {"kind": method, "dropout": {"p": p}}})
    folder = RunFolder(root / DATASET / method / f"os{os_:g}_p{p:g}" / f"seed{seed}")
    folder.root.mkdir(parents=True)
    save_json(folder.config, config)
    log = folder.open_metrics()
    over_time = []
    for e in EPOCHS:
        log.write({"kind": "train", "epoch": e, "seconds": 1.0, "loss": 5.0, "steps": 4})
        rec = {"kind": "fast_probe", "epoch": e, "converged": True,
               **{t: _acc(method, os_, p, seed, t, e) for t in deep.TASKS}}
        log.write(rec)
        over_time.append(rec)
    log.close()
    result = {"epoch": EPOCHS[-1], "dataset": DATASET, "method": method,
              "fast": {"converged": True, **{t: _acc(method, os_, p, seed, t, EPOCHS[-1]) for t in deep.TASKS}},
              "over_time": over_time, "probe_config": to_dict(config.probe)}
    if paper:
        result["paper"] = {t: 0.1 for t in deep.TASKS}
    save_json(folder.probe, result)
    return folder.root


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("deep-results")
    for seed in (0, 1):
        for m in deep.METHODS:
            _write_run(root, m, 1.0, 0.5, seed)
    for os_ in (0.0, 0.5):
        _write_run(root, "expert", os_, 0.5, 0)
    for p in (0.25, 0.75):
        _write_run(root, "dropout", 1.0, p, 0)
    # an unfinished run (no probe.json) is ignored
    (root / DATASET / "expert" / "os2_p0.5" / "seed0").mkdir(parents=True)
    return root


def _render(name: str, results: Path, out: Path):
    return render(default_registry()[name], FigureContext(out=out, quick=True, results=results))


def test_registered() -> None:
    names = list(default_registry())
    deep = ["deep_probe_accuracy", "deep_probe_over_time", "viewmaker_views", "theory_vs_deep", "deep_suppression",
            "randbits"]
    assert [n for n in names if n in deep] == deep


def test_probe_accuracy_table(tree: Path, tmp_path: Path) -> None:
    outcome = _render("deep_probe_accuracy", tree, tmp_path)
    assert outcome.status == "written", outcome.message
    rows = load_table(tmp_path / "deep_probe_accuracy.json")
    assert len(rows) == len(deep.METHODS) * 2 and {r["method"] for r in rows} == set(deep.METHODS)  # every kind
    for row in rows:
        vals = [_acc(row["method"], 1.0, 0.5, s, row["task"], EPOCHS[-1]) for s in (0, 1)]
        assert row["mean"] == pytest.approx(np.mean(vals))
        assert row["std"] == pytest.approx(np.std(vals, ddof=1))
        assert row["n_seeds"] == 2 and row["protocol"] == "fast"
        folders = row["folders"].split(";")
        assert len(folders) == 2 and all(f"/{row['method']}/os1_p0.5/seed" in f for f in folders)
        assert all(json.loads((Path(f) / "probe.json").read_text())["method"] == row["method"] for f in folders)


def test_probe_over_time_table(tree: Path, tmp_path: Path) -> None:
    outcome = _render("deep_probe_over_time", tree, tmp_path)
    assert outcome.status == "written", outcome.message
    rows = load_table(tmp_path / "deep_probe_over_time.json")
    assert len(rows) == len(deep.METHODS) * 2 * len(EPOCHS)
    for row in rows:
        vals = [_acc(row["method"], 1.0, 0.5, s, row["task"], row["epoch"]) for s in (0, 1)]
        assert row["mean"] == pytest.approx(np.mean(vals))
        assert row["std"] == pytest.approx(np.std(vals, ddof=1))
        assert row["n_seeds"] == 2


def test_paper_protocol_is_read_when_asked(tree: Path, tmp_path: Path) -> None:
    root = tmp_path / "r"
    _write_run(root, "expert", 1.0, 0.5, 0, paper=True)
    fig, rows = deep.probe_accuracy(deep.find_runs(root), deep.DeepFigureConfig(protocol="paper"))
    assert [r["mean"] for r in rows] == [0.1, 0.1]


@pytest.mark.parametrize("name", ["deep_probe_accuracy", "deep_probe_over_time", "viewmaker_views",
                                  "theory_vs_deep"])
def test_missing_results_skip(name: str, tmp_path: Path) -> None:
    outcome = _render(name, tmp_path / "nothing", tmp_path / "out")
    assert outcome.status == "skipped"
    assert outcome.message.startswith("skipped: no results at ")
    assert "\n" not in outcome.message and "deep_cpu_grid.py" in outcome.message
    assert not (tmp_path / "out" / f"{name}.png").exists()


def test_viewmaker_views_skip_without_viewmaker_run(tree: Path, tmp_path: Path) -> None:
    root = tmp_path / "r"
    _write_run(root, "expert", 1.0, 0.5, 0)
    outcome = _render("viewmaker_views", root, tmp_path / "out")
    assert outcome.status == "skipped" and "viewmaker" in outcome.message


def test_viewmaker_views_from_checkpoint(tmp_path: Path) -> None:
    """A real (untrained) viewmaker checkpoint: the deltas respect the budget, one row per view."""
    import torch

    from deep_experiments.models.viewmaker import Viewmaker
    from deep_experiments.run.checkpoint import save_checkpoint

    root = tmp_path / "r"
    run = _write_run(root, "viewmaker", 1.0, 0.5, 0)
    cfg = json.loads((run / "config.json").read_text())
    cfg["data"].update(train_size=8, test_size=8)
    (run / "config.json").write_text(json.dumps(cfg))
    torch.manual_seed(0)
    save_checkpoint(run / "checkpoint.pt", {"epoch": 2, "modules": {"viewmaker": Viewmaker(3, 0.05).state_dict()}})
    outcome = _render("viewmaker_views", root, tmp_path / "out")
    assert outcome.status == "written", outcome.message
    rows = load_table(tmp_path / "out" / "viewmaker_views.json")
    assert len(rows) == 4 * 3
    assert all(r["mean_abs_delta"] == pytest.approx(0.05, rel=1e-4) and r["folder"] == str(run) for r in rows)


def test_viewmaker_focus_script_exports_the_viewmaker_and_the_figure_reads_it(tmp_path: Path) -> None:
    """scripts/viewmaker_focus.py: viewmaker.pt equals the checkpoint's viewmaker (figure 6 works from it
    alone), viewmaker_focus.json equals a direct overlay_focus call, figure 6b's row is their mean."""
    import sys

    import torch

    from deep_experiments.data import build_dataset
    from deep_experiments.data import dataset_spec as spec_of_data
    from deep_experiments.models.viewmaker import Viewmaker
    from deep_experiments.run.checkpoint import save_checkpoint
    from deep_experiments.viewmaker_focus import overlay_focus

    def spec_of(rc):  # noqa: ANN001, ANN202
        return spec_of_data(rc.data)

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    import viewmaker_focus as script

    root = tmp_path / "r"
    ratios = []
    for seed in (0, 1):
        run = _write_run(root, "viewmaker", 1.0, 0.5, seed)
        cfg = json.loads((run / "config.json").read_text())
        cfg["data"].update(train_size=8, test_size=8)
        (run / "config.json").write_text(json.dumps(cfg))
        torch.manual_seed(seed)
        vm = Viewmaker(3, 0.05)
        save_checkpoint(run / "checkpoint.pt", {"epoch": 2, "modules": {"viewmaker": vm.state_dict()},
                                                "encoder_opt": {"big": torch.zeros(1000)}})
        assert script.main(["--results", str(root), "--images", "8", "--views", "2"]) == 0
        saved = json.loads((run / "viewmaker_focus.json").read_text())
        test = build_dataset(RunFolder(run).load_config().data, "test", seed).with_base()
        x, _, _, base = zip(*(test[i] for i in range(8)))
        direct = overlay_focus(vm.eval().delta, torch.stack(x), torch.stack(base), torch.Generator().manual_seed(0), 2)
        assert saved["ratio"] == pytest.approx(direct.ratio, rel=1e-6) and saved["images"] == 8
        from deep_experiments.seeds import seeded_init
        from deep_experiments.views import build_viewmaker

        rc = RunFolder(run).load_config()
        with seeded_init(seed, "init/viewmaker"):
            init = build_viewmaker(rc.views.viewmaker, spec_of(rc)).eval()
        control = overlay_focus(init.delta, torch.stack(x), torch.stack(base), torch.Generator().manual_seed(0), 2)
        assert saved["init_ratio"] == pytest.approx(control.ratio, rel=1e-6)
        ratios.append(saved["ratio"])
        (run / "checkpoint.pt").unlink()  # figure 6 and a rerun of the script work from viewmaker.pt alone
        (run / "checkpoint.prev.pt").unlink(missing_ok=True)
    control = _write_run(root, "viewmaker", 0.0, 0.5, 0)  # trained without the overlay: measured on overlaid images
    cfg = json.loads((control / "config.json").read_text())
    cfg["data"].update(train_size=8, test_size=8)
    (control / "config.json").write_text(json.dumps(cfg))
    save_checkpoint(control / "checkpoint.pt", {"epoch": 2, "modules": {"viewmaker": Viewmaker(3, 0.05).state_dict()}})
    assert script.main(["--results", str(root), "--images", "8", "--views", "2"]) == 0
    assert json.loads((control / "viewmaker_focus.json").read_text())["overlay_fraction"] > 0
    assert _render("viewmaker_views", root, tmp_path / "out").status == "written"
    outcome = _render("viewmaker_focus", root, tmp_path / "out")
    assert outcome.status == "written", outcome.message
    rows = {r["trained_overlay_strength"]: r for r in load_table(tmp_path / "out" / "viewmaker_focus.json")}
    row = rows[1.0]
    assert row["n_seeds"] == 2 and row["mean"] == pytest.approx(np.mean(ratios), rel=1e-6)
    assert np.isfinite(row["init_mean"])
    assert rows[0.0]["n_seeds"] == 1


def test_viewmaker_focus_is_skipped_without_measurements(tree: Path, tmp_path: Path) -> None:
    outcome = _render("viewmaker_focus", tree, tmp_path / "out")
    assert outcome.status == "skipped" and "viewmaker_focus.py" in outcome.message
