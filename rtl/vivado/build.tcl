# Vivado build of the BNN accelerator for the Ultra96v2 (Zynq UltraScale+ xczu3eg-sbva484-1-i).
#
#   cd <gen.py output>/vivado
#   vivado -mode batch -source build.tcl [-tclargs [-config config.tcl] [-out output] [-proj project]
#                                                  [-jobs 2] [-to bd|synth|bit] [-board_part auto|none|VLNV]]
#
# config.tcl (written by `python rtl/gen.py` from the hardware configuration) gives the part,
# the PL clock, the HP-port width, the register window and the generated Verilog. This script
# creates the project, the block design (PS, reset, SmartConnects, the accelerator as a module
# reference), validates it, synthesizes, implements, writes the bitstream, and exports into
# -out: <name>.bit and <name>.hwh (what PYNQ's Overlay loads), <name>.xsa, utilization.rpt,
# timing_summary.rpt. It stops with an error when a run fails or timing is not met (the files
# are exported first, so the reports can be read).
#
# Block design:
#   zynq_ultra_ps_e_0 (board preset) pl_clk0 @ clock_mhz -> every aclk; pl_resetn0 -> proc_sys_reset
#   M_AXI_HPM0_FPD -> smartconnect ctrl_sc -> bnn_accel_0/s_axi  at lite_base, lite_range
#   bnn_accel_0/m_axi -> smartconnect mem_sc -> S_AXI_HP0_FPD (hp_data_bits wide) -> DDR
#   with hp_ports 2 (the accelerator's master split over two ports, plane layout):
#   bnn_accel_0/m_axi_hp0 -> mem_sc -> S_AXI_HP0_FPD, bnn_accel_0/m_axi_hp1 -> mem_sc1 -> S_AXI_HP1_FPD

set here [file dirname [file normalize [info script]]]
set opt(config) [file join $here config.tcl]
set opt(out) [file join $here output]
set opt(proj) [file join $here project]
set opt(jobs) 2
set opt(to) bit
set opt(board_part) auto
if {[info exists argv]} {
    foreach {key value} $argv {
        set k [string trimleft $key -]
        if {![info exists opt($k)] || $value eq ""} {
            error "build.tcl: unknown or incomplete option '$key' (known: -config -out -proj -jobs -to -board_part)"
        }
        set opt($k) $value
    }
}
if {$opt(to) ni {bd synth bit}} {
    error "build.tcl: -to must be bd, synth or bit, got '$opt(to)'"
}
if {![file exists $opt(config)]} {
    error "build.tcl: $opt(config) not found: run python rtl/gen.py first"
}
source $opt(config)
set cfgdir [file dirname [file normalize $opt(config)]]
set out [file normalize $opt(out)]
set proj_dir [file normalize $opt(proj)]
set proj_name bnn_$bnn(config)
file mkdir $out

proc bnn_path {rel} {
    global cfgdir
    set p [file normalize [file join $cfgdir $rel]]
    if {![file exists $p]} {
        error "build.tcl: $p (listed in config.tcl) does not exist: rerun python rtl/gen.py"
    }
    return $p
}

# The newest installed version of a Xilinx IP (versions differ between Vivado releases).
proc latest_ip {name} {
    set defs [get_ipdefs -all "xilinx.com:ip:${name}:*"]
    if {[llength $defs] == 0} {
        error "build.tcl: IP xilinx.com:ip:${name} is not installed"
    }
    return [lindex [lsort -dictionary $defs] end]
}

# ------------------------------------------------------------------------------ project
create_project -force $proj_name $proj_dir -part $bnn(part)
set board ""
if {$opt(board_part) eq "auto"} {
    set found [get_board_parts -quiet -latest_file_version $bnn(board_pattern)]
    if {[llength $found] > 0} {
        set board [lindex [lsort -dictionary $found] end]
    }
} elseif {$opt(board_part) ne "none"} {
    set board $opt(board_part)
}
if {$board ne ""} {
    set_property board_part $board [current_project]
    puts "build.tcl: board $board"
} else {
    puts "WARNING: build.tcl: no Ultra96v2 board files ($bnn(board_pattern)); part $bnn(part) only.\
        The PS keeps its default configuration (DDR, MIO): fine under PYNQ, whose boot image\
        configures the PS, but not for a standalone boot. Install Avnet's board files for the preset."
}

set sources {}
foreach f $bnn(sources) {
    lappend sources [bnn_path $f]
}
set headers {}
foreach f $bnn(headers) {
    lappend headers [bnn_path $f]
}
add_files -norecurse -fileset sources_1 [concat $sources $headers]
# bnn_regs.v includes the generated register map
set_property file_type {Verilog Header} [get_files $headers]
set inc {}
foreach h $headers {
    lappend inc [file dirname $h]
}
set_property include_dirs [lsort -unique $inc] [get_filesets sources_1]
# Xilinx primitives: the multiply-adds as DSP48E2 (bnn_dsp_madd, the stem unit), wide bit selects with
# MUXF7 / MUXF8 (bnn_bitsel in bnn_lib.v)
set_property verilog_define {BNN_DSP48E2 BNN_MUXF} [get_filesets sources_1]
add_files -norecurse -fileset constrs_1 [bnn_path $bnn(xdc)]
update_compile_order -fileset sources_1

# ------------------------------------------------------------------------------ block design
create_bd_design $bnn(bd)
set ps [create_bd_cell -type ip -vlnv [latest_ip zynq_ultra_ps_e] zynq_ultra_ps_e_0]
if {$board ne ""} {
    # Ultra96v2 preset: LPDDR4, MIO, PS clocks
    apply_bd_automation -rule xilinx.com:bd_rule:zynq_ultra_ps_e -config {apply_board_preset "1"} $ps
}
# Only the ports used: HPM0_FPD (registers) and HP0 (DMA; HP1 too with hp_ports 2), both HP ports
# hp_data_bits wide; pl_clk0 at the configured clock.
set two_hp [expr {$bnn(hp_ports) == 2}]
set_property -dict [list \
    CONFIG.PSU__USE__M_AXI_GP0 {1} \
    CONFIG.PSU__MAXIGP0__DATA_WIDTH {32} \
    CONFIG.PSU__USE__M_AXI_GP1 {0} \
    CONFIG.PSU__USE__M_AXI_GP2 {0} \
    CONFIG.PSU__USE__S_AXI_GP2 {1} \
    CONFIG.PSU__SAXIGP2__DATA_WIDTH $bnn(hp_data_bits) \
    CONFIG.PSU__USE__S_AXI_GP3 $two_hp \
    CONFIG.PSU__FPGA_PL0_ENABLE {1} \
    CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ $bnn(clock_mhz) \
    CONFIG.PSU__USE__FABRIC__RST {1} \
] $ps
if {$two_hp} {
    set_property -dict [list CONFIG.PSU__SAXIGP3__DATA_WIDTH $bnn(hp_data_bits)] $ps
}
set act [get_property CONFIG.PSU__CRL_APB__PL0_REF_CTRL__ACT_FREQMHZ $ps]
if {$act ne "" && abs($act - $bnn(clock_mhz)) > 0.005 * $bnn(clock_mhz)} {
    puts "WARNING: build.tcl: pl_clk0 runs at $act MHz, not $bnn(clock_mhz) MHz (the PS clock dividers\
        cannot reach it): cycle counts are unchanged, set clock_mhz to $act for archsim's times."
}

set rst [create_bd_cell -type ip -vlnv [latest_ip proc_sys_reset] rst_pl0]
set ctrl_sc [create_bd_cell -type ip -vlnv [latest_ip smartconnect] ctrl_sc]
set_property -dict [list CONFIG.NUM_SI {1} CONFIG.NUM_MI {1}] $ctrl_sc
set mem_sc [create_bd_cell -type ip -vlnv [latest_ip smartconnect] mem_sc]
set_property -dict [list CONFIG.NUM_SI {1} CONFIG.NUM_MI {1}] $mem_sc
if {$two_hp} {
    set mem_sc1 [create_bd_cell -type ip -vlnv [latest_ip smartconnect] mem_sc1]
    set_property -dict [list CONFIG.NUM_SI {1} CONFIG.NUM_MI {1}] $mem_sc1
}
set accel [create_bd_cell -type module -reference $bnn(top) $bnn(cell)]
# the start pin: CTRL.start over AXI-Lite starts inferences
set zero [create_bd_cell -type ip -vlnv [latest_ip xlconstant] start_zero]
set_property -dict [list CONFIG.CONST_VAL {0} CONFIG.CONST_WIDTH {1}] $zero

connect_bd_net [get_bd_pins $ps/pl_clk0] \
    [get_bd_pins $ps/maxihpm0_fpd_aclk] [get_bd_pins $ps/saxihp0_fpd_aclk] \
    [get_bd_pins $rst/slowest_sync_clk] [get_bd_pins $ctrl_sc/aclk] [get_bd_pins $mem_sc/aclk] \
    [get_bd_pins $accel/aclk]
if {$two_hp} {
    connect_bd_net [get_bd_pins $ps/pl_clk0] [get_bd_pins $ps/saxihp1_fpd_aclk] [get_bd_pins $mem_sc1/aclk]
}
connect_bd_net [get_bd_pins $ps/pl_resetn0] [get_bd_pins $rst/ext_reset_in]
connect_bd_net [get_bd_pins $rst/interconnect_aresetn] [get_bd_pins $ctrl_sc/aresetn] [get_bd_pins $mem_sc/aresetn]
if {$two_hp} {
    connect_bd_net [get_bd_pins $rst/interconnect_aresetn] [get_bd_pins $mem_sc1/aresetn]
}
connect_bd_net [get_bd_pins $rst/peripheral_aresetn] [get_bd_pins $accel/aresetn]
connect_bd_net [get_bd_pins $zero/dout] [get_bd_pins $accel/start]
connect_bd_intf_net [get_bd_intf_pins $ps/$bnn(ctrl_port)] [get_bd_intf_pins $ctrl_sc/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins $ctrl_sc/M00_AXI] [get_bd_intf_pins $accel/s_axi]
if {$two_hp} {
    # plane 0 through HP0, plane 1 through HP1 (bnn_hp_split in the wrapper)
    connect_bd_intf_net [get_bd_intf_pins $accel/m_axi_hp0] [get_bd_intf_pins $mem_sc/S00_AXI]
    connect_bd_intf_net [get_bd_intf_pins $accel/m_axi_hp1] [get_bd_intf_pins $mem_sc1/S00_AXI]
    connect_bd_intf_net [get_bd_intf_pins $mem_sc1/M00_AXI] [get_bd_intf_pins $ps/$bnn(hp1_port)]
} else {
    connect_bd_intf_net [get_bd_intf_pins $accel/m_axi] [get_bd_intf_pins $mem_sc/S00_AXI]
}
connect_bd_intf_net [get_bd_intf_pins $mem_sc/M00_AXI] [get_bd_intf_pins $ps/$bnn(hp_port)]

# Registers at a fixed address (the host driver's default); the DMA sees the PS's DDR and OCM.
assign_bd_address -offset $bnn(lite_base) -range $bnn(lite_range) \
    -target_address_space [get_bd_addr_spaces $ps/Data] \
    [get_bd_addr_segs -of_objects [get_bd_intf_pins $accel/s_axi]] -force
assign_bd_address
validate_bd_design
save_bd_design
set bd_file [get_files $bnn(bd).bd]
generate_target all $bd_file
set wrapper [make_wrapper -files $bd_file -top]
add_files -norecurse -fileset sources_1 $wrapper
set_property top $bnn(bd)_wrapper [get_filesets sources_1]
update_compile_order -fileset sources_1

# The hardware handoff PYNQ reads (project.gen since Vivado 2020.2, project.srcs before).
proc copy_hwh {} {
    global proj_dir bnn out
    set hwh [glob -nocomplain -directory $proj_dir -- */sources_1/bd/$bnn(bd)/hw_handoff/$bnn(bd).hwh]
    if {[llength $hwh] == 0} {
        error "build.tcl: no $bnn(bd).hwh under $proj_dir"
    }
    file copy -force [lindex $hwh 0] [file join $out $bnn(output_name).hwh]
}
copy_hwh
if {$opt(to) eq "bd"} {
    puts "build.tcl: block design done (-to bd): $out"
    return
}

# ------------------------------------------------------------------------------ runs
proc check_run {run} {
    set progress [get_property PROGRESS [get_runs $run]]
    set status [get_property STATUS [get_runs $run]]
    if {$progress ne "100%" || [string match -nocase "*error*" $status] || [string match -nocase "*failed*" $status]} {
        error "build.tcl: run $run did not complete: $status ($progress)"
    }
}
launch_runs synth_1 -jobs $opt(jobs)
wait_on_run synth_1
check_run synth_1
if {$opt(to) eq "synth"} {
    open_run synth_1
    report_utilization -file [file join $out utilization_synth.rpt]
    puts "build.tcl: synthesis done (-to synth): $out"
    return
}
launch_runs impl_1 -to_step write_bitstream -jobs $opt(jobs)
wait_on_run impl_1
check_run impl_1

# ------------------------------------------------------------------------------ export
open_run impl_1
report_utilization -file [file join $out utilization.rpt]
report_utilization -hierarchical -file [file join $out utilization_hier.rpt]
report_timing_summary -max_paths 20 -file [file join $out timing_summary.rpt]
set bit [file join [get_property DIRECTORY [get_runs impl_1]] $bnn(bd)_wrapper.bit]
if {![file exists $bit]} {
    error "build.tcl: bitstream $bit not written"
}
file copy -force $bit [file join $out $bnn(output_name).bit]
copy_hwh
write_hw_platform -fixed -include_bit -force -file [file join $out $bnn(output_name).xsa]
set wns [get_property SLACK [get_timing_paths -max_paths 1 -nworst 1 -setup]]
set whs [get_property SLACK [get_timing_paths -max_paths 1 -nworst 1 -hold]]
puts "build.tcl: exported to $out; WNS $wns ns, WHS $whs ns at $bnn(clock_mhz) MHz"
if {$wns eq "" || $whs eq "" || $wns < 0 || $whs < 0} {
    error "build.tcl: timing not met (WNS $wns ns, WHS $whs ns): do not use this bitstream; see timing_summary.rpt"
}
