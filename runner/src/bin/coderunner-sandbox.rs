//! The sandbox helper binary: coderunner spawns one per run (see `coderunner_runner::helper`).

fn main() {
    std::process::exit(coderunner_runner::helper::main());
}
