fn main() {
    std::process::exit(bit2hls::cli::main());
}
