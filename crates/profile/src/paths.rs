//! Where Marquee puts the user's files, and how it names them.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// The user's videos folder plus `Marquee` (e.g. `~/Videos/Marquee`): recordings and clips.
pub fn videos_dir() -> PathBuf {
    directories::UserDirs::new()
        .and_then(|u| u.video_dir().map(|d| d.to_path_buf()))
        .or_else(|| directories::BaseDirs::new().map(|b| b.home_dir().join("Videos")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("Marquee")
}

/// The OS cache folder plus `marquee` (e.g. `~/.cache/marquee`): scratch files such as the
/// replay buffer's spool, never the user's media.
pub fn cache_dir() -> PathBuf {
    directories::BaseDirs::new()
        .map(|b| b.cache_dir().join("marquee"))
        .unwrap_or_else(|| std::env::temp_dir().join("marquee"))
}

/// UTC "YYYYmmdd-HHMMSS" for file names (no timezone database needed).
pub fn timestamp() -> String {
    timestamp_at(SystemTime::now())
}

/// [`timestamp`] of a given time.
pub fn timestamp_at(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_time_formats_as_expected() {
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_795_242_757);
        assert_eq!(timestamp_at(t), "20261121-063237");
    }

    #[test]
    fn timestamps_are_file_name_safe() {
        let t = timestamp();
        assert_eq!(t.len(), 15);
        assert!(t.starts_with("20") && t.as_bytes()[8] == b'-');
    }
}
