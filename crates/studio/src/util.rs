//! Process-wide helpers every part of the session uses: FFmpeg's one-time setup and named
//! threads.

/// Initialises FFmpeg once (silencing its log, which could print URLs with keys).
pub fn init() {
    marquee_capture::file::init_ffmpeg();
}

/// Starts one of the session's named threads (the name shows in `top -H` and debuggers).
pub(crate) fn spawn_thread(
    name: &str,
    f: impl FnOnce() + Send + 'static,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .expect("spawning a thread only fails when the OS is out of resources")
}
