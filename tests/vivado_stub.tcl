# Stand-ins for the Vivado Tcl commands rtl/vivado/build.tcl calls, to run it under plain tclsh.
#
#   STUB_LOG=calls.jsonl STUB_RESULT=result.json tclsh vivado_stub.tcl build.tcl [tclargs...]
#
# Every stub appends its call (a JSON array of its name and arguments) to $STUB_LOG and returns
# what the script needs to go on: object names, properties set earlier, and the files Vivado
# would write (project directories, .hwh, .bit, reports), so the script's own checks and copies
# run. A command without a stub is an error, so a misspelt command fails the test. At the end
# $STUB_RESULT gets {"ok": ..., "error": ..., "props": {object: {property: value}}}.
# Knobs: STUB_BOARD_PARTS (board parts installed), STUB_SLACK and STUB_HOLD_SLACK (ns),
# STUB_ACT_FREQ (pl_clk0 the PS reaches), STUB_RUN_STATUS (status of every run).
#
# This checks the Tcl and what it asks Vivado for; it does not prove that Vivado accepts it.

set stub_log [open $env(STUB_LOG) w]
array set prop {}
set stub(proj_dir) ""
set stub(proj_name) ""

proc stub_env {name default} {
    global env
    if {[info exists env($name)]} {
        return $env($name)
    }
    return $default
}

proc json_str {s} {
    return "\"[string map [list \\ \\\\ \" \\\" \n \\n \r \\r \t \\t] $s]\""
}

proc record {name args} {
    global stub_log
    set items [list [json_str $name]]
    foreach a $args {
        lappend items [json_str $a]
    }
    puts $stub_log "\[[join $items ,]\]"
    flush $stub_log
}

# value following `flag` in args, or ""
proc flag_value {arglist flag} {
    set i [lsearch -exact $arglist $flag]
    if {$i < 0} {
        return ""
    }
    return [lindex $arglist [expr {$i + 1}]]
}

proc touch {path} {
    file mkdir [file dirname $path]
    set f [open $path w]
    puts $f "written by vivado_stub.tcl"
    close $f
}

# ---------------------------------------------------------------- project and files
proc create_project {args} {
    global stub
    record create_project {*}$args
    set pos [lsearch -all -inline -not -glob [lrange $args 0 end] -*]
    # create_project -force NAME DIR -part PART: positional NAME DIR (the part follows -part)
    set part [flag_value $args -part]
    set pos [lsearch -all -inline -not -exact $pos $part]
    set stub(proj_name) [lindex $pos 0]
    set stub(proj_dir) [lindex $pos 1]
    file mkdir $stub(proj_dir)
    return $stub(proj_name)
}
proc get_board_parts {args} {
    record get_board_parts {*}$args
    return [stub_env STUB_BOARD_PARTS ""]
}
proc current_project {args} {
    record current_project {*}$args
    return project_1
}
proc add_files {args} {
    record add_files {*}$args
    return ""
}
proc get_files {args} {
    record get_files {*}$args
    return [lindex $args end]
}
proc get_filesets {args} {
    record get_filesets {*}$args
    return [lindex $args end]
}
proc update_compile_order {args} {
    record update_compile_order {*}$args
}

# ---------------------------------------------------------------- properties
proc set_property {args} {
    global prop
    record set_property {*}$args
    if {[lindex $args 0] eq "-dict"} {
        set pairs [lindex $args 1]
        set objs [lindex $args 2]
    } else {
        set pairs [list [lindex $args 0] [lindex $args 1]]
        set objs [lindex $args 2]
    }
    foreach obj $objs {
        foreach {k v} $pairs {
            set prop($obj|$k) $v
        }
    }
    return ""
}
proc get_property {args} {
    global prop stub
    record get_property {*}$args
    set name [lindex $args 0]
    set obj [lindex $args 1]
    if {[info exists prop($obj|$name)]} {
        return $prop($obj|$name)
    }
    switch -glob -- $name {
        PROGRESS {return 100%}
        STATUS {return [stub_env STUB_RUN_STATUS "write_bitstream Complete!"]}
        DIRECTORY {return [file join $stub(proj_dir) $stub(proj_name).runs $obj]}
        SLACK {
            if {$obj eq "timing_path_hold"} {
                return [stub_env STUB_HOLD_SLACK 0.010]
            }
            return [stub_env STUB_SLACK 0.250]
        }
        CONFIG.PSU__CRL_APB__PL0_REF_CTRL__ACT_FREQMHZ {
            set req ""
            if {[info exists prop($obj|CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ)]} {
                set req $prop($obj|CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ)
            }
            return [stub_env STUB_ACT_FREQ $req]
        }
    }
    return ""
}

# ---------------------------------------------------------------- block design
proc create_bd_design {args} {
    record create_bd_design {*}$args
    return [lindex $args end]
}
proc get_ipdefs {args} {
    record get_ipdefs {*}$args
    # two versions, so the script has to pick the newest
    set pattern [lindex $args end]
    return [list [string map {* 1.9} $pattern] [string map {* 1.10} $pattern]]
}
proc create_bd_cell {args} {
    record create_bd_cell {*}$args
    return "/[lindex $args end]"
}
proc apply_bd_automation {args} {
    record apply_bd_automation {*}$args
}
proc get_bd_pins {args} {
    record get_bd_pins {*}$args
    return [lindex $args end]
}
proc get_bd_intf_pins {args} {
    record get_bd_intf_pins {*}$args
    return [lindex $args end]
}
proc connect_bd_net {args} {
    record connect_bd_net {*}$args
}
proc connect_bd_intf_net {args} {
    record connect_bd_intf_net {*}$args
}
proc get_bd_addr_spaces {args} {
    record get_bd_addr_spaces {*}$args
    return [lindex $args end]
}
proc get_bd_addr_segs {args} {
    record get_bd_addr_segs {*}$args
    return "[lindex $args end]/reg0"
}
proc assign_bd_address {args} {
    record assign_bd_address {*}$args
}
proc validate_bd_design {args} {
    record validate_bd_design {*}$args
}
proc save_bd_design {args} {
    record save_bd_design {*}$args
}
proc generate_target {args} {
    global stub
    record generate_target {*}$args
    set bd [file rootname [file tail [lindex $args end]]]
    touch [file join $stub(proj_dir) $stub(proj_name).gen sources_1 bd $bd hw_handoff $bd.hwh]
}
proc make_wrapper {args} {
    global stub
    record make_wrapper {*}$args
    set bd [file rootname [file tail [flag_value $args -files]]]
    return [file join $stub(proj_dir) $stub(proj_name).gen sources_1 bd $bd hdl ${bd}_wrapper.v]
}

# ---------------------------------------------------------------- runs and reports
proc get_runs {args} {
    record get_runs {*}$args
    return [lindex $args end]
}
proc launch_runs {args} {
    global prop
    record launch_runs {*}$args
    set run [lindex $args 0]
    if {[flag_value $args -to_step] eq "write_bitstream"} {
        touch [file join [get_property DIRECTORY $run] $prop(sources_1|top).bit]
    }
}
proc wait_on_run {args} {
    record wait_on_run {*}$args
}
proc open_run {args} {
    record open_run {*}$args
}
proc report_utilization {args} {
    record report_utilization {*}$args
    touch [flag_value $args -file]
}
proc report_timing_summary {args} {
    record report_timing_summary {*}$args
    touch [flag_value $args -file]
}
proc write_hw_platform {args} {
    record write_hw_platform {*}$args
    touch [flag_value $args -file]
}
proc get_timing_paths {args} {
    record get_timing_paths {*}$args
    if {"-hold" in $args} {
        return timing_path_hold
    }
    return timing_path_setup
}

# ---------------------------------------------------------------- run the script
set script [lindex $argv 0]
set argv [lrange $argv 1 end]
set argc [llength $argv]
set ok [expr {[catch {source $script} msg] == 0}]
close $stub_log
set items {}
foreach key [lsort [array names prop]] {
    lappend items "[json_str $key]: [json_str $prop($key)]"
}
set f [open $env(STUB_RESULT) w]
puts $f "{\"ok\": [expr {$ok ? "true" : "false"}], \"error\": [json_str [expr {$ok ? "" : $msg}]],\
    \"props\": {[join $items {, }]}}"
close $f
