"""The accelerator's AXI4-Lite address map: where each register and table lives.

rtl/regmap.py describes the fields and re-exports these; rtl/params.py reads the table sizes
(how many layers and passes the map has room for) from here, which keeps the two free of an
import circle.
"""

from __future__ import annotations

ID_MAGIC = 0xB1A50001  # "BNN accelerator", register map version 1

CTRL = 0x0000  # W: bit 0 = start (one pulse per write of 1)
STATUS = 0x0004  # R: bit 0 = done (until the next start), bit 1 = busy
CYCLES = 0x0008  # R: cycles from start to done of the last run
ID = 0x000C  # R: ID_MAGIC
HW_BASE = 0x0010  # R: hardware parameters, one per word (HW_FIELDS)
STEM_PRM = 0x0078  # W: the stem unit's parameter port (docs/timing.md 3.1, ST4): each write appends 32 bits, low
# word first; every (axi.data_bits / 32)-th write completes one beat of stem_unit.pack_params
GLOBAL_BASE = 0x0080  # RW: programme-wide fields (GLOBAL_FIELDS)
DONE_BASE = 0x0100  # R: word n = DONE cycle (from start) of image n of a stream, n < DONE_LOG_IMAGES
DONE_LOG_IMAGES = 16  # images whose DONE the hardware logs; CYCLES holds the last image's
LAYER_BASE = 0x1000  # W: layer l field f at LAYER_BASE + l * LAYER_STRIDE + 4 f
LAYER_STRIDE = 0x40
PASS_BASE = 0x2000  # W: pass p field f at PASS_BASE + p * PASS_STRIDE + 4 f
PASS_STRIDE = 0x40
LOG_BASE = 0x4000  # R: word l = cycle (from start) at which layer l ended
ADDR_BITS = 16
SIZE = 1 << ADDR_BITS  # bytes of address space the slave decodes (its AXI-Lite range)

CTRL_START_BIT = 0  # CTRL: writing 1 starts an inference (ignored while busy)
STATUS_DONE_BIT = 0  # STATUS: set at done, cleared by the next start
STATUS_BUSY_BIT = 1  # STATUS: an inference is running


def max_layers_in_map() -> int:
    return (PASS_BASE - LAYER_BASE) // LAYER_STRIDE


def max_passes_in_map() -> int:
    return (LOG_BASE - PASS_BASE) // PASS_STRIDE
