"""The run folder, written by training and read by everything else (the CLI, the figures).

:class:`RunFolder` is the one reader of run folders: the config (any readable format, migrated),
the metrics, the probe results, the backbone and the viewmaker; :func:`find_runs` lists the
finished runs under a root.

Layout of ``runs/NAME/``::

    config.json     resolved RunConfig (a rerun with a different config is refused; older formats
                    are migrated on read, see deep_experiments.configs)
    command.txt     one labelled line per invocation: "train: CMD", "resume: CMD", "probe: CMD"
    metrics.jsonl   one JSON object per line: {"kind": "train" | "fast_probe", "epoch": ...}
    checkpoint.pt   full state after the last completed epoch (see checkpoint.py)
    checkpoint.prev.pt  the one before (the fallback when checkpoint.pt is unreadable)
    backbone.pt     the encoder alone, written when training completes
    viewmaker.pt    the viewmaker alone (viewmaker runs; RunFolder.export_viewmaker), kept where
                    the checkpoints are not (committed results)
    probe.json      final per-task accuracies (fast and paper protocol)

Every file but the append-only ``metrics.jsonl`` and ``command.txt`` is written atomically
(:mod:`featuredrop.atomic`); an unreadable ``config.json`` or ``probe.json`` is a ``ValueError``
naming the file.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deep_experiments.configs import RunConfig, load_config
from deep_experiments.models import Encoder
from deep_experiments.models.viewmaker import Viewmaker
from deep_experiments.run.checkpoint import export_viewmaker, load_backbone, load_viewmaker
from featuredrop.atomic import atomic_write
from featuredrop.config import save_json

__all__ = ["RunFolder", "MetricsLog", "find_runs"]


class MetricsLog:
    """Append-only, line-buffered JSONL file: one record per line, flushed as it is written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("a", buffering=1, encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        """Append one record (must be JSON-serializable)."""
        self._file.write(json.dumps(record, sort_keys=True) + "\n")

    def close(self) -> None:
        """Close the file."""
        self._file.close()


class RunFolder:
    """Paths and bookkeeping of one run folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.config = self.root / "config.json"
        self.command = self.root / "command.txt"
        self.metrics = self.root / "metrics.jsonl"
        self.checkpoint = self.root / "checkpoint.pt"
        self.backbone = self.root / "backbone.pt"
        self.viewmaker = self.root / "viewmaker.pt"
        self.probe = self.root / "probe.json"

    def check(self, config: RunConfig) -> None:
        """Refuse a folder that holds a run of another config (or an unreadable ``config.json``); writes nothing.

        Raises:
            ValueError: naming the folder or the file.
        """
        if self.config.exists() and self.load_config() != config:
            raise ValueError(f"{self.root} holds a run with a different config; use another --out")

    def prepare(self, config: RunConfig, argv: Sequence[str] | None = None) -> None:
        """Create the folder, write ``config.json`` (or check it matches) and log the command.

        Raises:
            ValueError: the folder already holds a run with a different config.
        """
        self.check(config)
        self.root.mkdir(parents=True, exist_ok=True)
        resumed = self.config.exists()
        if not resumed:
            save_json(self.config, config)
        self.log_command(argv, "resume" if resumed else "train")

    def log_command(self, argv: Sequence[str] | None = None, label: str = "probe") -> None:
        """Append ``LABEL: COMMAND`` (``sys.argv`` by default) to ``command.txt``.

        ``label`` says what the invocation did: ``train`` and ``resume`` (from :meth:`prepare`)
        or ``probe`` (the default: the final probes).
        """
        args = list(sys.argv if argv is None else argv)
        with self.command.open("a", encoding="utf-8") as f:
            f.write(f"{label}: {shlex.join(args)}\n")

    def _read_json(self, path: Path) -> Any:
        """A JSON file of the folder; ``ValueError`` naming it when it is not valid JSON."""
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{path}: not valid JSON, truncated or corrupt ({err})") from None

    def load_config(self) -> RunConfig:
        """The run's resolved config (an older format is migrated; the file is left as it is).

        Raises:
            FileNotFoundError: not a run folder.
            ValueError: ``config.json`` is not valid JSON or not a valid config (names the file).
        """
        if not self.config.exists():
            raise FileNotFoundError(f"{self.root} is not a run folder (no config.json)")
        try:
            return load_config(self._read_json(self.config))
        except ValueError as err:
            text = str(err)
            raise ValueError(text if text.startswith(str(self.config)) else f"{self.config}: {text}") from None

    @property
    def finished(self) -> bool:
        """Whether the run has been probed (``config.json`` and ``probe.json`` exist)."""
        return self.config.exists() and self.probe.exists()

    def read_probe(self) -> dict[str, Any]:
        """The final probe results (``probe.json``).

        Raises:
            FileNotFoundError: the run has not been probed.
            ValueError: ``probe.json`` is not valid JSON or has no ``fast`` results (names the file).
        """
        if not self.probe.exists():
            raise FileNotFoundError(f"{self.root} has no probe.json; probe it first")
        result = self._read_json(self.probe)
        if not isinstance(result, dict) or not isinstance(result.get("fast"), dict):
            raise ValueError(f"{self.probe}: no \"fast\" probe results in it")
        return result

    def fast_probes(self) -> list[dict[str, Any]]:
        """The fast probes recorded during training (``metrics.jsonl``), by epoch."""
        return sorted((r for r in self.read_metrics() if r.get("kind") == "fast_probe"), key=lambda r: r["epoch"])

    def load_backbone(self, map_location: str = "cpu") -> Encoder:
        """The trained encoder of ``backbone.pt`` (see :func:`deep_experiments.run.checkpoint.load_backbone`)."""
        return load_backbone(self.backbone, map_location)

    def load_viewmaker(self) -> Viewmaker:
        """The viewmaker of the latest checkpoint, else of ``viewmaker.pt``, in eval mode (viewmaker runs only)."""
        source = self.checkpoint if self.checkpoint.exists() or not self.viewmaker.exists() else self.viewmaker
        return load_viewmaker(source, self.load_config())

    def has_viewmaker(self) -> bool:
        """Whether a viewmaker can be loaded from here (a checkpoint or ``viewmaker.pt`` exists)."""
        return self.checkpoint.exists() or self.viewmaker.exists()

    def export_viewmaker(self) -> Path:
        """Write ``viewmaker.pt`` from the latest checkpoint; returns its path."""
        export_viewmaker(self.checkpoint, self.viewmaker)
        return self.viewmaker

    def _metric_lines(self) -> list[str]:
        return self.metrics.read_text(encoding="utf-8").splitlines() if self.metrics.exists() else []

    def read_metrics(self) -> list[dict[str, Any]]:
        """All metric records, in order (a torn last line from a crash is skipped)."""
        return _parse_records(self._metric_lines())

    def truncate_metrics(self, epoch: int) -> None:
        """Drop records of epochs after ``epoch`` (written after the last checkpoint of a crashed run).

        The file is rewritten atomically, and only when there is something to drop (or a torn line).
        """
        lines = self._metric_lines()
        records = _parse_records(lines)
        kept = [r for r in records if r.get("epoch", 0) <= epoch]
        if len(kept) == len(records) == len(lines):
            return
        atomic_write(self.metrics, "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept))

    def open_metrics(self) -> MetricsLog:
        """The metrics file, opened for appending."""
        return MetricsLog(self.metrics)


def _parse_records(lines: list[str]) -> list[dict[str, Any]]:
    """The JSON records of ``lines``; an unparsable (torn) line is skipped."""
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def find_runs(root: str | Path, pattern: str = "**/probe.json") -> list[RunFolder]:
    """The finished run folders under ``root`` whose ``probe.json`` matches ``pattern``, sorted by path."""
    return [RunFolder(probe.parent) for probe in sorted(Path(root).glob(pattern)) if RunFolder(probe.parent).finished]
