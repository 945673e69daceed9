// Prevents an extra console window on Windows in release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    #[cfg(target_os = "linux")]
    for (var, value) in marquee_app::linux_env::defaults() {
        if std::env::var_os(var).is_none() {
            // SAFETY: first thing in main, before any other thread exists.
            unsafe { std::env::set_var(var, value) };
        }
    }
    #[cfg(target_os = "linux")]
    marquee_app::linux_env::no_transparent_huge_pages();
    // glibc gives each thread that allocates its own malloc arena; with the engine's ~20
    // threads (capture, compositor, encoders, outputs, preview, tokio) that is tens of MiB of
    // fragmented, touched memory. Two arenas are plenty for a few allocations per frame.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt is called before any other thread exists (both calls).
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        // Picture-sized buffers (1.4 MB at 720p) always get their own mapping, returned to
        // the OS when freed. glibc's default raises this threshold after the first such free,
        // and from then on frames are carved out of the arenas, which fragment and stay
        // resident. The frame pools recycle buffers, so few mappings are made: measured live,
        // −7 MiB PSS for no visible CPU (docs/benchmarks.md).
        libc::mallopt(
            libc::M_MMAP_THRESHOLD,
            marquee_app::linux_env::MMAP_THRESHOLD as libc::c_int,
        );
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    marquee_app::linux_env::trim_heap_periodically();
    marquee_app::run();
}
