//! The wall clock the sans-IO core is fed.

/// Milliseconds since the Unix epoch, the time unit handed to the sans-IO core.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
