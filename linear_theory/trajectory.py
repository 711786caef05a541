"""One result type for every learning curve: closed form, gradient flow and sampled GD/SGD.

All three methods of :mod:`linear_theory.dynamics` and :mod:`linear_theory.simulate` return a
:class:`Trajectory`, so a figure overlays them with the same code (closed form dotted, simulation
solid) and a table exports them with the same columns.

Shapes (``T`` recorded times, ``K`` blocks, optional leading batch axes ``B...`` for batched runs):

- ``times``: ``(T,)``, shared by the whole batch (for GD/SGD: ``lr * step``, the gradient-flow
  time the discrete run approximates);
- ``captured_strength``, ``probe_r2``: ``(B..., T, K)``;
- ``loss``: ``(B..., T)``;
- ``encoders`` (optional): ``(B..., T, k, d)``, the encoder ``W`` at each recorded time.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from featuredrop.atomic import atomic_open

__all__ = ["Trajectory", "stack_trajectories", "ROW_FIELDS"]

#: Columns of :meth:`Trajectory.to_rows` (long format: one row per batch index, time and block).
ROW_FIELDS = ("method", "label", "batch", "time", "block", "captured_strength", "probe_r2", "loss")


@dataclass(frozen=True)
class Trajectory:
    """Per-block captured strength, probe ``R^2`` and loss along a learning run.

    Attributes:
        times: recorded times, shape ``(T,)``, non-decreasing.
        captured_strength: ``||W U_i||_F^2 / r_i`` per block, shape ``(B..., T, K)``.
        probe_r2: clean-input linear-probe ``R^2`` per block, shape ``(B..., T, K)``.
        loss: loss at each time, shape ``(B..., T)`` (population loss for the closed form and the
            flow; minibatch loss averaged over the record window for GD/SGD).
        method: what produced it (``"logistic"``, ``"gradient_flow"``, ``"sgd_spectral"``, ...).
        label: free text for legends.
        encoders: optional encoders ``W(t)``, shape ``(B..., T, k, d)`` (not exported to rows).
    """

    times: np.ndarray
    captured_strength: np.ndarray
    probe_r2: np.ndarray
    loss: np.ndarray
    method: str
    label: str = ""
    encoders: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        times = np.asarray(self.times, dtype=float)
        if times.ndim != 1 or times.size == 0:
            raise ValueError(f"Trajectory.times must have shape (T,) with T >= 1, got {times.shape}")
        if np.any(np.diff(times) < 0):
            raise ValueError("Trajectory.times must be non-decreasing")
        cs = np.asarray(self.captured_strength, dtype=float)
        r2 = np.asarray(self.probe_r2, dtype=float)
        loss = np.asarray(self.loss, dtype=float)
        if cs.ndim < 2 or cs.shape[-2] != times.size:
            raise ValueError(f"Trajectory.captured_strength must have shape (..., {times.size}, K), got {cs.shape}")
        if r2.shape != cs.shape:
            raise ValueError(f"Trajectory.probe_r2 must have shape {cs.shape}, got {r2.shape}")
        if loss.shape != cs.shape[:-1]:
            raise ValueError(f"Trajectory.loss must have shape {cs.shape[:-1]}, got {loss.shape}")
        if not isinstance(self.method, str) or not self.method:
            raise ValueError(f"Trajectory.method must be a non-empty string, got {self.method!r}")
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "captured_strength", cs)
        object.__setattr__(self, "probe_r2", r2)
        object.__setattr__(self, "loss", loss)
        if self.encoders is not None:
            enc = np.asarray(self.encoders)
            if enc.ndim != cs.ndim + 1 or enc.shape[:-2] != cs.shape[:-1]:
                raise ValueError(f"Trajectory.encoders must have shape {cs.shape[:-1]} + (k, d), got {enc.shape}")
            object.__setattr__(self, "encoders", enc)

    # -- shape -----------------------------------------------------------------------------
    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Leading batch axes ``B...`` (``()`` for a single run)."""
        return self.captured_strength.shape[:-2]

    @property
    def n_blocks(self) -> int:
        """Number of feature blocks ``K``."""
        return self.captured_strength.shape[-1]

    def __getitem__(self, index: Any) -> Trajectory:
        """Select along the batch axes (e.g. ``traj[3]``); the time and block axes are kept."""
        if not self.batch_shape:
            raise IndexError("this Trajectory has no batch axes")
        enc = None if self.encoders is None else self.encoders[index]
        return replace(self, captured_strength=self.captured_strength[index], probe_r2=self.probe_r2[index],
                       loss=self.loss[index], encoders=enc)

    # -- final values ----------------------------------------------------------------------
    def final_probe_r2(self) -> np.ndarray:
        """Probe ``R^2`` at the last time. Shape ``(B..., K)``."""
        return self.probe_r2[..., -1, :]

    def final_captured_strength(self) -> np.ndarray:
        """Captured strength at the last time. Shape ``(B..., K)``."""
        return self.captured_strength[..., -1, :]

    def final_loss(self) -> np.ndarray:
        """Loss at the last time. Shape ``(B...)``."""
        return self.loss[..., -1]

    def final(self) -> dict[str, Any]:
        """The last recorded time and the values there, as a dict."""
        return {"time": float(self.times[-1]), "captured_strength": self.final_captured_strength(),
                "probe_r2": self.final_probe_r2(), "loss": self.final_loss()}

    # -- export ----------------------------------------------------------------------------
    def to_rows(self) -> list[dict[str, Any]]:
        """Long-format rows (fields :data:`ROW_FIELDS`), one per batch index, time and block.

        ``batch`` is the batch index as ``"i"`` or ``"i,j"`` (empty for a single run).
        """
        rows = []
        for b in itertools.product(*(range(n) for n in self.batch_shape)):
            batch = ",".join(map(str, b))
            for t_idx, t in enumerate(self.times):
                for blk in range(self.n_blocks):
                    rows.append({
                        "method": self.method, "label": self.label, "batch": batch, "time": float(t),
                        "block": blk, "captured_strength": float(self.captured_strength[b + (t_idx, blk)]),
                        "probe_r2": float(self.probe_r2[b + (t_idx, blk)]), "loss": float(self.loss[b + (t_idx,)]),
                    })
        return rows

    def to_csv(self, path: str | Path) -> Path:
        """Write :meth:`to_rows` to ``path`` as CSV (header :data:`ROW_FIELDS`), atomically."""
        path = Path(path)
        with atomic_open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(ROW_FIELDS))
            writer.writeheader()
            writer.writerows(self.to_rows())
        return path


def stack_trajectories(trajectories: Sequence[Trajectory], label: str | None = None) -> Trajectory:
    """Stack runs with the same times, method and shapes along a new leading batch axis."""
    if not trajectories:
        raise ValueError("stack_trajectories needs at least one Trajectory")
    first = trajectories[0]
    for i, tr in enumerate(trajectories):
        if tr.method != first.method or not np.array_equal(tr.times, first.times):
            raise ValueError(f"trajectory {i} differs from trajectory 0 in method or times")
    has_enc = all(tr.encoders is not None for tr in trajectories)
    return Trajectory(
        first.times,
        np.stack([tr.captured_strength for tr in trajectories]),
        np.stack([tr.probe_r2 for tr in trajectories]),
        np.stack([tr.loss for tr in trajectories]),
        first.method,
        first.label if label is None else label,
        np.stack([tr.encoders for tr in trajectories]) if has_enc else None,  # type: ignore[misc]
    )
