"""Cross-check: the simulator's per-image predictions against the trainer's PyTorch integer mode.

Usage: python -m bench.intmode_crosscheck RESULTS_DIR [--samples N]

RESULTS_DIR is `archsim run workloads/resnet18_pruned.yaml --images fashion-mnist:test
--baseline-accuracy --out RESULTS_DIR`. The pruned model's (and, if the table has them, the dense
baseline's) predictions in RESULTS_DIR/images.csv are compared image by image with
trainer/intmode.py on the same images; prints the agreement and both accuracies. Needs torch.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from archsim.format import load_model
from archsim.images import load_images
from archsim.workload import load_workload
from trainer.intmode import IntModel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path)
    ap.add_argument("--samples", type=int, help="only the first N images of the table")
    ap.add_argument("--batch", type=int, default=250)
    args = ap.parse_args()
    summary = json.loads((args.results / "summary.json").read_text())
    with open(args.results / summary["per_image"], newline="") as f:
        table = list(csv.DictReader(f))[: args.samples]
    wl = load_workload(summary["workload_file"])
    torch.set_num_threads(1)
    roles = [("prediction", wl.model_path)]
    if "baseline_prediction" in table[0]:
        roles.append(("baseline_prediction", wl.baseline_path))
    for column, path in roles:
        model = load_model(path)
        images = load_images(summary["images"]["source"], model.input_shape, 10)
        x, labels = images.images[: len(table)], images.labels[: len(table)]
        im = IntModel(model, wl.config.epilogue.value_bits)
        t0 = time.perf_counter()
        ref = np.concatenate(
            [
                im.run(torch.from_numpy(x[a : a + args.batch])).logits.argmax(1).numpy()
                for a in range(0, len(x), args.batch)
            ]
        )
        ours = np.array([int(r[column]) for r in table])
        same = int((ref == ours).sum())
        print(
            f"{model.name}: {same:,} / {len(ours):,} predictions agree with trainer/intmode.py; accuracy simulator "
            f"{100 * np.mean(ours == labels):.2f} %, trainer integer mode {100 * np.mean(ref == labels):.2f} % "
            f"({time.perf_counter() - t0:.0f} s)"
        )
        if same != len(ours):
            bad = np.flatnonzero(ref != ours)[:10].tolist()
            print(f"  disagree at images {bad}", file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
