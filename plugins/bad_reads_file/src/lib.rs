//! `bad_reads_file` — a filter that tries to read the host's files.
//!
//! For sandbox tests. `keep` tries `std::fs::read("/etc/passwd")` and
//! `std::fs::read_dir("/")`:
//!
//! * if **both fail** (the sandbox works), it returns
//!   `Err("read /etc/passwd: <error>; read_dir /: <error>")`, so the host
//!   test can check that access was denied and how;
//! * if **either succeeds** (the sandbox leaks), it prints what it got to
//!   stderr and returns `Ok(true)`: the event is kept, which the test treats
//!   as a failure.
//!
//! `init` returns normally. Configuration: none; any keys are ignored.

use signalbox_sdk::{Config, Error, Event, Filter};

struct ReadsFile;

impl Filter for ReadsFile {
    fn init(_config: Config) -> Result<(), Error> {
        Ok(())
    }

    fn keep(_event: Event) -> Result<bool, Error> {
        let file = std::fs::read("/etc/passwd");
        let dir = std::fs::read_dir("/").map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<Vec<_>>()
        });
        match (file, dir) {
            (Err(file), Err(dir)) => Err(Error::new(format!(
                "read /etc/passwd: {file}; read_dir /: {dir}"
            ))),
            (file, dir) => {
                eprintln!(
                    "bad_reads_file: sandbox leak: read /etc/passwd: {}; read_dir /: {}",
                    match &file {
                        Ok(bytes) => format!("{} bytes", bytes.len()),
                        Err(e) => e.to_string(),
                    },
                    match &dir {
                        Ok(names) => format!("{names:?}"),
                        Err(e) => e.to_string(),
                    },
                );
                Ok(true)
            }
        }
    }
}

signalbox_sdk::export_filter!(ReadsFile);
