"""archsim from Python: run the packaged sample workload, change the hardware, sweep it.

    python examples/quickstart.py [OUT_DIR]

Works from a clone or after `pip install bnn-archsim`; the test suite runs it (tests/test_api.py).
"""

import sys
import tempfile
from pathlib import Path

import yaml

import archsim


def main(out: Path) -> None:
    # 1. The sample workload that ships in the package: a trained, pruned half-width ResNet-18
    #    against its dense twin, on the Ultra96v2 configuration.
    res = archsim.run("resnet18_half_both")
    print(res)
    assert res.passed, "the functional check failed"
    print(res.layers[["layer", "kernel_density", "spatial_density", "dense_cycles", "sparse_cycles", "speedup"]])

    # 2. The same workload on a narrower PE array, without writing a config file (as --set does).
    narrow = archsim.run("resnet18_half_both", overrides={"pe_array.cols": 8}, out=out / "cols8")
    print(f"16 columns: {res.speedup:.2f}x; 8 columns: {narrow.speedup:.2f}x (ideal {res.ideal_speedup:.2f}x)")
    print("recorded:", narrow.summary["provenance"]["overrides"], "->", narrow.files[-1])

    # 3. A sweep over PE columns; the table is results.csv as a DataFrame.
    sweep_file = out / "cols.yaml"
    body = {
        "name": "cols",
        "workload": str(archsim.sample_workload()),
        "parameters": {"hardware.pe_array.cols": [4, 8, 16]},
    }
    sweep_file.write_text(yaml.safe_dump(body, sort_keys=False))
    sw = archsim.sweep(sweep_file, out / "sweep")
    print(sw.table[["hardware.pe_array.cols", "status", "sparse_cycles", "speedup", "sparse_fps"]])
    assert sw.complete and (sw.table["status"] == "ok").all()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
