"""An interrupted run resumed from its last checkpoint ends bit-identical to an uninterrupted one."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.trainer_helpers import ROOT, small_hw, tiny_config, tiny_train_argv
from trainer.train import RunError, RunOptions, load_checkpoint, train


def _same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def _strip_times(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in h.items() if k != "epoch_seconds"} for h in history]


def test_resume_after_crash_is_bit_identical(tmp_path):
    cfg = tiny_config(small_hw(tmp_path))
    opts = RunOptions(threads=1, ckpt_every=4, progress=False)
    ref = train(cfg, tmp_path / "ref", opts)
    assert ref["done"] and ref["global_step"] == 2 * 24

    run = tmp_path / "crashed"
    # Crash mid-epoch 1 (after step 10; last checkpoint at step 8), then mid-epoch 2.
    for crash in (10, 33):
        with pytest.raises(KeyboardInterrupt):
            train(cfg, run, RunOptions(threads=1, ckpt_every=4, progress=False, crash_at_step=crash))
        st = load_checkpoint(run)
        assert st["global_step"] < crash + 1 and not st["done"]
    done = train(cfg, run, opts)
    _same_state(ref["model"], done["model"])
    assert _strip_times(ref["history"]) == _strip_times(done["history"])
    assert (run / "log.jsonl").read_text().count("\n") == 2
    # Rerunning a finished run does nothing.
    again = train(cfg, run, opts)
    _same_state(done["model"], again["model"])


def test_rerun_with_different_settings_is_refused(tmp_path):
    cfg = tiny_config(small_hw(tmp_path), epochs=1)
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.json").write_text(json.dumps({**cfg.to_json(), "lr": 1.0}))
    with pytest.raises(RunError, match=r"config.json: field 'lr'"):
        train(cfg, tmp_path / "r", RunOptions(threads=1, progress=False))


@pytest.mark.slow
def test_kill_9_mid_epoch_then_rerun_same_command(tmp_path):
    """The real thing: SIGKILL the CLI mid-epoch, rerun the identical command, compare."""
    hw = small_hw(tmp_path)
    cfg = tiny_config(hw)
    ref = train(cfg, tmp_path / "ref", RunOptions(threads=1, progress=False))
    run = tmp_path / "killed"
    argv = tiny_train_argv(run, hw, "--threads", "1", "--ckpt-every", "3", "--no-progress")
    cmd = [sys.executable, "-m", "trainer", *argv]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = run / "checkpoint.pt"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if ckpt.exists():
            st = load_checkpoint(run)
            if st["global_step"] >= 6 and st["step_in_epoch"] > 0:
                break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    st = load_checkpoint(run)  # the checkpoint on disk is whole (atomic writes)
    assert not st["done"]
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done = load_checkpoint(run)
    _same_state(ref["model"], done["model"])
    assert _strip_times(ref["history"]) == _strip_times(done["history"])
