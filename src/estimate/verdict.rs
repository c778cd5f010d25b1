//! The 40 MHz trigger verdict (stub: filled by the parts/verdict work).
