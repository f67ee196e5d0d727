"""SimPy models of the accelerator's hardware blocks, one module per block (docs/simulator.md).

Every block module holds a fast model (events per DMA job and per mask scan, a
closed-form rule per tile that `pipeline.py` evaluates, durations from
archsim.contract) and a cycle model (one step per clock, durations emerging from
counters). `accelerator.py` wires either set together.
"""
