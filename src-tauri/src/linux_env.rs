//! WebKitGTK and GTK settings the app starts with on Linux, each only where the user has not
//! set the variable already (so `WEBKIT_DISABLE_COMPOSITING_MODE=0 marquee-app` brings
//! accelerated compositing back).
//!
//! Why: the studio is one local page drawn by the CPU; GPU paths cost memory for nothing.
//! - Accelerated compositing costs ~110 MiB of PSS in the web process (measured idle under
//!   Xvfb: 235 → 122 MiB).
//! - With compositing off, the UI process still opened an EGL display (to find the render
//!   node to hand the web process) and GTK probed GLX visuals: each loads Mesa's driver,
//!   which relocates libLLVM (~20 MiB of private pages) into the process. Naming the render
//!   node, turning off the DMA-BUF renderer (only used for compositing) and GDK's GL keeps
//!   Mesa out of the UI process: ~20 MiB less while live (docs/benchmarks.md).
//! - JavaScriptCore's optimising tiers (DFG, and FTL above it) are off: the studio's script
//!   is UI glue, well served by the interpreter and the baseline JIT, and the optimising
//!   compilers' code and profiling data cost the web process ~10 MiB (measured live).

/// Allocations at least this large get their own mapping, in the app process (`mallopt` in
/// `main`) and in WebKit's (the environment): see `main` for why.
pub const MMAP_THRESHOLD: usize = 256 * 1024;

/// Variables and the values the app sets when they are unset.
pub fn defaults() -> Vec<(&'static str, String)> {
    vec![
        ("WEBKIT_DISABLE_COMPOSITING_MODE", "1".into()),
        ("WEBKIT_DISABLE_DMABUF_RENDERER", "1".into()),
        ("GDK_GL", "disable".into()),
        ("JSC_useDFGJIT", "0".into()),
        // WebKit's processes inherit it: glibc reads it at their first allocation (the app
        // process sets the same with mallopt in main; see there for why).
        ("MALLOC_MMAP_THRESHOLD_", MMAP_THRESHOLD.to_string()),
        (
            "WEBKIT_WEB_RENDER_DEVICE_FILE",
            render_node(std::path::Path::new("/dev/dri")),
        ),
    ]
}

/// The first DRM render node (what WebKit would find through EGL), or the conventional first
/// one when the machine has none (a VM: nothing renders on it with compositing off).
fn render_node(dri: &std::path::Path) -> String {
    let mut nodes: Vec<String> = std::fs::read_dir(dri)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("renderD"))
        .collect();
    nodes.sort();
    match nodes.first() {
        Some(n) => dri.join(n).display().to_string(),
        None => "/dev/dri/renderD128".into(),
    }
}

/// Turns transparent huge pages off for the app and the WebKit processes it starts (the
/// setting is inherited). libx264 asks for huge pages (`MADV_HUGEPAGE`) on every buffer of
/// 1.75 MiB or more, and each one then stays resident in whole 2 MiB pages whether x264 touches
/// them or not: measured live at 720p, 18 MiB of huge pages in the app process, and 3–9 MiB
/// less PSS without them, for no visible CPU (docs/benchmarks.md). Call before any thread exists.
pub fn no_transparent_huge_pages() {
    // SAFETY: prctl with PR_SET_THP_DISABLE takes plain integers and only sets a flag on the
    // process's memory map.
    let _ = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

/// Hands freed heap pages back to the OS every few seconds. glibc returns memory only from the
/// top of the heap; the engine frees and reallocates per-frame buffers in the middle, so free
/// pages stay resident (counted in PSS) until trimmed. One pass costs well under a millisecond.
#[cfg(target_env = "gnu")]
pub fn trim_heap_periodically() {
    let _ = std::thread::Builder::new()
        .name("heap-trim".into())
        .spawn(|| {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(10));
                // SAFETY: malloc_trim only releases free pages; safe from any thread.
                unsafe {
                    libc::malloc_trim(0);
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_render_node_is_named_for_webkit() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["card0", "renderD129", "renderD128"] {
            std::fs::write(dir.path().join(n), b"").unwrap();
        }
        assert_eq!(
            render_node(dir.path()),
            dir.path().join("renderD128").display().to_string()
        );
    }

    #[test]
    fn huge_pages_stay_off_in_the_processes_the_app_starts() {
        no_transparent_huge_pages();
        // WebKit's processes are started the same way: fork and exec.
        let status = std::process::Command::new("cat")
            .arg("/proc/self/status")
            .output()
            .unwrap();
        let status = String::from_utf8_lossy(&status.stdout);
        assert!(status.lines().any(|l| l == "THP_enabled:\t0"), "{status}");
    }

    #[test]
    fn a_machine_without_render_nodes_still_gets_a_name() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            render_node(&dir.path().join("missing")),
            "/dev/dri/renderD128"
        );
    }
}
