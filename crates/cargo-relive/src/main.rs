//! `cargo relive`: see `cargo relive --help`.

fn main() {
    std::process::exit(cargo_relive::main());
}
