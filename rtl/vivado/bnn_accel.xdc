# Constraints of the BNN accelerator on the Ultra96v2 (read by build.tcl).
#
# Clock: the design has one clock, pl_clk0 of the Zynq UltraScale+ PS, which drives the
# accelerator, the SmartConnects, the reset block and the PS's HPM0_FPD and HP0 ports (and HP1 when
# axi.hp_ports is 2: both HP ports on the same clock, so the splitter needs no clock crossing). The PS
# IP creates its clock constraint itself (from PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ), so no
# create_clock here; adding one would override the PS's and could disagree with the frequency
# the PS dividers really produce.
#
# Reset: pl_resetn0 is asynchronous to pl_clk0; proc_sys_reset synchronises it (with its own
# constraints) and its outputs are registered in the pl_clk0 domain, and bnn_accel uses
# aresetn synchronously. So every reset path is an ordinary single-clock path and must be
# timed: no false path.
#
# Pins: the accelerator has no PL I/O (it talks to the PS only), so no PACKAGE_PIN or
# IOSTANDARD constraints.
#
# Bitstream: compressed; PYNQ downloads it at every Overlay() and a smaller file loads faster.
set_property BITSTREAM.GENERAL.COMPRESS TRUE [current_design]
