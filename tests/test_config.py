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
        (("data_bits: 128", "data_bits: 100"), "'axi.data_bits'"),
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


def test_malformed_yaml(tmp_path):
    bad = tmp_path / "m.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="malformed YAML at line"):
        load_config(bad)
