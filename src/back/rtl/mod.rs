//! Verilog RTL backend (in progress).
