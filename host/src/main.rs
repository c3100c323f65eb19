//! The `signalbox` binary: server and command-line client. All the work is in
//! the library; see `signalbox::cli`.

/// mimalloc instead of the system allocator: ingest allocates several small
/// strings per event from many threads, where glibc's malloc showed up at
/// about a tenth of the request workers' time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    signalbox::cli::main()
}
