"""The 2x2 max-pool and the flatten classifier on the RTL side (issue 14), beyond the cross-check cases.

* What build_layout and the register programme say for pooled layers: the `maxpool` flag (bit 8) on
  every pooled layer but the last (whose pooling is the host's), w3n_out of the pooled map.
* The one refusal left: a pooled layer whose spatial predictor runs (sparse programme); archsim
  simulates it, the RTL would not pool the skipped positions' bits. One line naming the layer and
  field, from build_layout and from `rtl/gen.py --model` (exit 2, naming the file, nothing written).
* The host driver's flatten classifier: the STOREd map pooled by the host, flattened, logits equal
  archsim's functional model's, on a board played by archsim and on the RTL (Icarus).
"""

from __future__ import annotations

import numpy as np
import pytest

from archsim.errors import ConfigError
from archsim.format import save_model
from archsim.functional import run_model, stem_output
from archsim.layout import build_layout
from archsim.program import compile_program
from rtl import regmap
from rtl.host.driver import Accelerator
from rtl.params import RtlParams
from tests.rtlsim.cases import POOL, case, choose_thresholds
from tests.rtlsim.configs import ROOT, tiny, write_config
from tests.rtlsim.models import LayerSpec, make_model, random_x0

# identity residual, the residual buffer left alone, max-pooled, with a predictor: the format allows it
PRED_POOL = (
    LayerSpec("c1", 8, k=1, residual=True, res_write=False, maxpool=True, predictor="p"),
    LayerSpec("c2", 8, k=1, residual=False),
)


def _pred_pool_model(dense: bool = False):
    cfg = tiny()
    specs = [LayerSpec(**{**s.__dict__, "k": None}) for s in PRED_POOL] if dense else list(PRED_POOL)
    model = make_model(cfg, 8, 8, 8, specs, seed=40, name="pred_pool")
    x0 = random_x0(np.random.default_rng(41), 8, 8, 8)
    return cfg, choose_thresholds(model, x0, {0: "sparse"}), x0


def _flatten_model(cfg, seed: int = 42):
    """Pooled conv, conv, a last conv that pools (the host's pool), a flatten classifier."""
    layers = [
        LayerSpec("c1", 8, k=1, **POOL),
        LayerSpec("c2", 8, k=2, residual=False, res_write=False),
        LayerSpec("c3", 8, k=1, residual=False, maxpool=True),
    ]
    return make_model(cfg, 8, 10, 9, layers, seed, name="flat", classifier="flatten_linear")


def test_pooled_layers_carry_the_flag_and_the_pooled_w3n():
    spec = case("pool_passes")
    cfg, c = spec.config(), spec.make()
    lay = build_layout(c.model, compile_program(c.model, cfg, "sparse"), cfg)
    assert [L.maxpool for L in lay.layers] == [True, True, False]
    writes = {w.what: w.value for w in regmap.program_writes(lay, RtlParams(cfg))}
    bit = 1 << regmap.LAYER_FLAGS.index("maxpool")
    assert regmap.LAYER_FLAGS.index("maxpool") == 8
    assert [bool(writes[f"layer[{i}].flags"] & bit) for i in range(3)] == [True, True, False]
    # 36 channels of 16-bit words: 3 words a position; the pooled map 4 wide: ceil(4 / 3) * 3
    assert (writes["layer[0].w3n_out"], lay.layers[0].out.w3n) == (6, 9)
    assert writes["layer[1].w3n_out"] == 2 and writes["layer[2].w3n_out"] == lay.layers[2].out.w3n
    assert "FLAG_MAXPOOL" in (ROOT / "rtl" / "verilog" / "bnn_regs.v").read_text()


def test_the_last_layers_pool_is_the_hosts():
    cfg = tiny()
    model = _flatten_model(cfg)
    lay = build_layout(model, compile_program(model, cfg, "sparse"), cfg)
    assert [L.maxpool for L in lay.layers] == [True, False, False]
    assert lay.store.h == model.layers[-1].h_out and not lay.pooled  # the STORE writes the unpooled map


def test_a_pooled_layer_whose_predictor_runs_is_refused_in_one_line():
    cfg, model, _ = _pred_pool_model()
    run = run_model(model, np.zeros((1, *model.input_shape), np.uint8), "sparse")  # archsim simulates it
    assert run.masks[0] is not None
    with pytest.raises(ConfigError) as err:
        build_layout(model, compile_program(model, cfg, "sparse"), cfg)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("layer 'c1': field 'maxpool': a 2x2 max-pool on a layer whose spatial")
    # the dense programme bypasses the mask unit: nothing is skipped, the RTL pools every position
    _, dense, _ = _pred_pool_model(dense=True)
    lay = build_layout(dense, compile_program(dense, cfg, "dense"), cfg)
    assert lay.layers[0].maxpool and not lay.layers[0].mask_enabled


def test_gen_refuses_the_model_naming_file_layer_and_field(tmp_path, capsys):
    from rtl.gen import main

    cfg, model, _ = _pred_pool_model()
    path = tmp_path / "m.npz"
    save_model(path, model)
    conf = write_config(cfg, tmp_path / "tiny.yaml")
    out = tmp_path / "out"
    assert main(["--config", str(conf), "--model", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}: layer 'c1': field 'maxpool':" in err, err
    assert not out.exists()


def test_driver_computes_the_flatten_logits_on_a_memory_board(tmp_path):
    from tests.test_driver import memory_board

    cfg = tiny()
    model = _flatten_model(cfg)
    path = tmp_path / "m.npz"
    save_model(path, model)
    images = np.random.default_rng(7).integers(0, 256, (2, *model.input_shape), dtype=np.uint8)
    b, _ = memory_board(model, cfg)
    acc = Accelerator(b, cfg)
    acc.load_model(path)
    ref = run_model(model, images, "sparse")
    assert np.array_equal(acc.run_batch(images), ref.logits)
    assert acc.stats.output.shape == (8, 5, 4)  # the STOREd map: the host pools it to 2x2 and flattens
    assert model.classifier.weight.shape == (4, 8 * 2 * 2)


@pytest.mark.rtl
def test_driver_runs_a_pooled_flatten_model_on_the_rtl(tmp_path):
    """The driver on the generated RTL (Icarus): two pooled layers in the accelerator (one of them on the
    set the LOAD wrote), the host's pool of the last map and the flatten classifier; logits, CYCLES
    and the layer log as archsim says."""
    from archsim.contract import schedule
    from tests.test_driver import driver_on_rtl

    cfg = tiny()
    model = _flatten_model(cfg, seed=43)
    images = np.random.default_rng(8).integers(0, 256, (2, *model.input_shape), dtype=np.uint8)
    res, _ = driver_on_rtl(cfg, model, images, tmp_path, 0x1000)
    ref = run_model(model, images, "sparse")
    sched = schedule(compile_program(model, cfg, "sparse"), cfg, [None] * 3)
    for k, i in enumerate([0, 0, 1]):  # run(images[0]), then run_batch(images)
        assert res["logits"][k] == ref.logits[i].tolist(), f"run {k} (image {i}): logits differ"
        assert res["cycles"][k] == sched.total_cycles and res["layer_ends"][k] == [lt.end for lt in sched.layers]
    assert res["logits"][0] != res["logits"][2]
    assert stem_output(model.stem, images[:1]).shape == (1, 8, 10, 9)  # 10x9 -> 5x4 -> host's 2x2
