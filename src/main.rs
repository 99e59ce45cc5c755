//! The `sahaya` command line.

mod cli;

fn main() {
    // Output piped into `head` and closed early ends the process quietly, as other Unix
    // tools do, instead of failing on the next write.
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any other thread exists; SIG_DFL is a
    // valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(cli::run());
}
