"""scripts/train_models.sh, the documented command that trains the shipped models: every
command it would run is one the CLIs accept, and the dense and pruned models share a recipe."""

from __future__ import annotations

import os
import shlex
import subprocess

from tests.synth_helpers import ROOT
from trainer.cli import _parser


def planned() -> list[list[str]]:
    env = {**os.environ, "PRINT": "1", "PYTHON": "python"}
    out = subprocess.run(
        ["bash", str(ROOT / "scripts/train_models.sh"), "some/runs"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert not (ROOT / "some").exists()  # printing the commands creates nothing
    return [shlex.split(line) for line in out.stdout.splitlines()]


def test_every_trainer_command_parses_and_the_recipes_match():
    cmds = planned()
    trainer = [c[3:] for c in cmds if c[:3] == ["python", "-m", "trainer"]]
    assert [c[0] for c in trainer].count("train") == 6 and [c[0] for c in trainer].count("export") == 6
    args = {}
    for c in trainer:
        a = _parser().parse_args(c)  # exits (SystemExit) on an option the CLI does not know
        if a.cmd == "train":
            assert str(a.run_dir).startswith("some/runs/")
            args[a.run_dir.name] = vars(a)
    recipe = ("dataset", "epochs", "seed", "batch_size", "lr", "weight_decay", "width", "ste", "bf16")
    for dense, pruned in (("fm_dense_w1", "fm_pruned_w1"), ("fm_dense_w05", "fm_both_w05")):
        assert {k: args[dense][k] for k in recipe} == {k: args[pruned][k] for k in recipe}
        assert args[dense]["kernel_density"] == (1.0,) * 4 and args[dense]["spatial_budget"] is None
        assert args[pruned]["kernel_density"] < (1.0,) * 4 and args[pruned]["spatial_budget"] == 0.5
    assert args["fm_dense_w1"]["width"] == 1.0 and args["fm_dense_w1"]["epochs"] >= 1
    run = next(c for c in cmds if c[1:4] == ["-m", "archsim", "run"])
    assert run[4] == "workloads/resnet18_pruned.yaml" and run[-2:] == ["--out", "docs/figures/data/resnet18_pruned"]
    assert cmds[-1][1:4] == ["-m", "analysis", "all"] and "docs/figures/data/resnet18_pruned" in cmds[-1]


def test_the_script_stops_on_a_failed_step(tmp_path):
    """A failing training command stops the script before any export (set -e through join)."""
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\necho "$@" >> "$(dirname "$0")/calls"\nexit 3\n')
    fake.chmod(0o755)
    env = {**os.environ, "PYTHON": str(fake)}
    r = subprocess.run(
        ["bash", str(ROOT / "scripts/train_models.sh"), str(tmp_path / "runs")],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert r.returncode != 0
    calls = (tmp_path / "calls").read_text().splitlines()
    assert len(calls) == 2 and all(" train " in f" {c} " for c in calls)  # the first pair only
