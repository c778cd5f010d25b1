//! Open-source synthesis of generated RTL with Yosys (stub: filled by the synth work).
