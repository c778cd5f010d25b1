//! FPGA part table (stub: filled by the parts/verdict work).
