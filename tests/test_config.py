from pathlib import Path

import pytest

from archsim.config import load_config
from archsim.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_ultra96v2_loads_with_derived_fields():
    cfg = load_config(ROOT / "configs/ultra96v2.yaml")
    assert cfg.index_bits == 3
    assert cfg.pass_channels == 128
    assert cfg.step_bits(3, sparse=True) == 16 * 12
    assert cfg.step_bits(1, sparse=False) == 16


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (("pe_array:\n  rows: 16", "pe_array:\n  rows: 0"), "pe_array.rows"),
        (("clock_mhz: 200", "clock_mhz: 200\nbogus: 1"), "bogus"),
        (("data_bits: 256", "data_bits: 100"), "'axi.data_bits'"),
        (("hp_ports: 2", "hp_ports: 3"), "axi.hp_ports"),
        (("hp_ports: 2", "hp_ports: 0"), "axi.hp_ports"),
        (("hp_ports: 2", "hp_ports: two"), "axi.hp_ports"),
        (("data_bits: 256", "data_bits: 32"), "'axi.hp_ports'"),  # two 16-bit ports
        (("act_word_bits: 64", "act_word_bits: 40"), "'buffers.act_word_bits'"),
    ],
)
def test_bad_config_names_file_and_field(tmp_path, edit, field):
    text = (ROOT / "configs/ultra96v2.yaml").read_text().replace(*edit)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(bad)
    assert str(bad) in str(exc.value)
    assert field in str(exc.value)


def test_hp_ports_defaults_to_one_port():
    text = (ROOT / "configs/ultra96v2.yaml").read_text()
    cfg = load_config(ROOT / "configs/ultra96v2.yaml")
    assert cfg.axi.hp_ports == 2 and cfg.axi.data_bits == 256
    assert "hp_ports:" in text
    one = {**cfg.model_dump(), "axi": {k: v for k, v in cfg.axi.model_dump().items() if k != "hp_ports"}}
    assert type(cfg).model_validate(one).axi.hp_ports == 1


def test_malformed_yaml(tmp_path):
    bad = tmp_path / "m.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="malformed YAML at line"):
        load_config(bad)


def test_what_the_rtl_cannot_build_is_refused_with_the_generators_message(tmp_path):
    """One rule: archsim accepted this array (the residual word and the AXI beat divide one another), but
    rtl/gen.py cannot generate it (the beat must divide the residual word); both now refuse it alike."""
    import subprocess
    import sys

    import yaml

    d = yaml.safe_load((ROOT / "configs/ultra96v2.yaml").read_text())
    d["pe_array"].update(rows=4, cols=1, acc_depth=16)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(d))
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    gen = subprocess.run(
        [sys.executable, str(ROOT / "rtl/gen.py"), "--config", str(path), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert gen.returncode == 2
    assert gen.stderr.strip() == f"error: {exc.value}"
    assert str(exc.value) == (
        f"{path}: field 'axi.data_bits': must divide rows x value_bits = 64: a beat holds part of one residual "
        "word (a limit of the RTL generator)"
    )


def test_limits_of_the_rtl_are_all_in_the_docs():
    from archsim.config import RTL_MAX_LAYERS, RTL_MAX_PASSES

    doc = (ROOT / "docs/config.md").read_text()
    for phrase in (
        "must divide rows x value_bits",
        "rows x (mult_bits + bias_bits)",
        "9 x act_word_bits",
        "value_bits` at most 16",
        f"{RTL_MAX_LAYERS} layers",
        f"{RTL_MAX_PASSES} weight passes",
        "tile counters",
    ):
        assert phrase in doc, phrase
