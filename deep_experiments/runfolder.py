"""The run folder: resolved config, command lines, JSONL metrics, checkpoint, backbone, probe results.

Layout of ``runs/NAME/``::

    config.json     resolved RunConfig (a rerun with a different config is refused)
    command.txt     one line per invocation (train, resume, probe)
    metrics.jsonl   one JSON object per line: {"kind": "train" | "fast_probe", "epoch": ...}
    checkpoint.pt   full state after the last completed epoch (see checkpoint.py)
    backbone.pt     the encoder alone, written when training completes
    probe.json      final per-task accuracies (fast and paper protocol)
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deep_experiments.configs import RunConfig
from featuredrop.config import from_dict, save_json, to_dict

__all__ = ["RunFolder", "MetricsLog"]


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
        self.probe = self.root / "probe.json"

    def prepare(self, config: RunConfig, argv: Sequence[str] | None = None) -> None:
        """Create the folder, write ``config.json`` (or check it matches) and log the command.

        Raises:
            ValueError: the folder already holds a run with a different config.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        if self.config.exists():
            existing = json.loads(self.config.read_text())
            if existing != to_dict(config):
                raise ValueError(f"{self.root} holds a run with a different config; use another --out")
        else:
            save_json(self.config, config)
        self.log_command(argv)

    def log_command(self, argv: Sequence[str] | None = None) -> None:
        """Append the command line (``sys.argv`` by default) to ``command.txt``."""
        args = list(sys.argv if argv is None else argv)
        with self.command.open("a", encoding="utf-8") as f:
            f.write(shlex.join(args) + "\n")

    def load_config(self) -> RunConfig:
        """The run's resolved config.

        Raises:
            FileNotFoundError: not a run folder.
        """
        if not self.config.exists():
            raise FileNotFoundError(f"{self.root} is not a run folder (no config.json)")
        return from_dict(RunConfig, json.loads(self.config.read_text()))

    def read_metrics(self) -> list[dict[str, Any]]:
        """All metric records, in order (a torn last line from a crash is skipped)."""
        if not self.metrics.exists():
            return []
        records = []
        for line in self.metrics.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records

    def truncate_metrics(self, epoch: int) -> None:
        """Drop records of epochs after ``epoch`` (written after the last checkpoint of a crashed run)."""
        kept = [r for r in self.read_metrics() if r.get("epoch", 0) <= epoch]
        self.metrics.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in kept), encoding="utf-8")

    def open_metrics(self) -> MetricsLog:
        """The metrics file, opened for appending."""
        return MetricsLog(self.metrics)
