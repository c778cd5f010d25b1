# Shared Tcl of bit2hls projects (copied into every project's vivado_scripts/).
# Untested here: Vitis HLS and Vivado are not available where bit2hls is developed; these
# follow the documented command syntax (UG1399 for Vitis HLS, UG835 for Vivado).

# Parses "key=value" switches (as passed with -tclargs) into the array named by opt_name.
proc b2h_parse_switches {opt_name argv} {
    upvar 1 $opt_name opt
    foreach arg $argv {
        foreach a [split $arg " "] {
            if {[regexp {^([a-z_]+)=([0-9]+)$} $a -> key value]} {
                if {[info exists opt($key)]} {
                    set opt($key) $value
                } else {
                    puts "WARNING: unknown switch '$key' (known: [lsort [array names opt]])"
                }
            }
        }
    }
}

# Compares the C-simulation log of Vitis HLS with the expected outputs written by bit2hls.
proc b2h_compare_logs {prjdir} {
    set expected [file join $prjdir tb_data tb_output_predictions.dat]
    set got [file join $prjdir tb_data csim_results.log]
    if {![file exists $got]} {
        puts "ERROR: $got not found (run csim first)"
        return
    }
    set fe [open $expected r]
    set fg [open $got r]
    set n 0
    set bad 0
    while {[gets $fg lg] >= 0} {
        if {[gets $fe le] < 0} { break }
        incr n
        set a [regexp -all -inline {\S+} $lg]
        set b [regexp -all -inline {\S+} $le]
        if {[llength $a] != [llength $b]} { incr bad; continue }
        # Both files hold exact decimal text of the same codes (src/back/hls/tbdata.rs), so the
        # values are compared as strings: Tcl's numeric != would compare them as doubles and
        # miss differences beyond 53 bits.
        foreach x $a y $b {
            if {$x ne $y} { incr bad; break }
        }
    }
    close $fe
    close $fg
    puts "validation: $n samples, $bad mismatches"
}

# Out-of-context synthesis of the HLS RTL with utilization and timing reports.
proc b2h_synth_ooc {top part clock_period rtl_dir} {
    create_project -in_memory -part $part
    add_files [glob -nocomplain [file join $rtl_dir *.v]]
    foreach dat [glob -nocomplain [file join $rtl_dir *.dat]] {
        add_files $dat
    }
    set xdc [file join [pwd] b2h_ooc.xdc]
    set f [open $xdc w]
    puts $f "create_clock -period $clock_period -name ap_clk \[get_ports ap_clk\]"
    close $f
    read_xdc -mode out_of_context $xdc
    synth_design -top $top -part $part -mode out_of_context
    report_utilization -file vivado_synth.rpt
    report_timing_summary -file vivado_timing.rpt
}

# Runs Vivado synthesis from inside a Vitis HLS session (vsynth=1).
proc b2h_vivado_synth {prjdir} {
    set script [file join $prjdir vivado_synth.tcl]
    if {[catch {exec vivado -mode batch -source $script >@ stdout 2>@ stderr} err]} {
        puts "ERROR: vivado synthesis failed: $err"
    }
}
