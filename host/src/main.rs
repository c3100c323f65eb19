//! The `signalbox` binary: server and command-line client. All the work is in
//! the library; see `signalbox::cli`.

fn main() -> std::process::ExitCode {
    signalbox::cli::main()
}
