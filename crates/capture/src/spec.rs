//! Source specs as users type them: `test`, `camera:0`, `file:PATH`, `tone:440`, `mic:default`, `none`.

use crate::error::CaptureError;
use std::fmt;

/// A video source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoSpec {
    /// The synthetic camera (moving pattern with frame codes).
    Test,
    /// Synthetic camera number N (`test:N`, N ≥ 1): its frame codes count from N × 1,000,000
    /// and it has its own tint, so tests and people can tell several apart.
    TestCard(u32),
    /// A real camera by index or id.
    Camera(String),
    /// A media file, looped.
    File(String),
    /// Co-stream guest slot N (`guest:N`, 1 ≤ N ≤ 16): their camera, pushed in by the
    /// co-stream host (see [`crate::feed`]).
    Guest(u32),
    /// A remote camera: an SRT or RTMP listener a phone or PC pushes to (see
    /// [`crate::remote`]). Shown as written, so it may hold a passphrase or a key: redact
    /// it before showing it.
    Remote(crate::remote::ListenUrl),
}

/// An audio source.
#[derive(Debug, Clone, PartialEq)]
pub enum AudioSpec {
    Tone(f64),
    Mic(String),
    File(String),
    /// Co-stream guest slot N's voice (`guest:N`).
    Guest(u32),
    None,
}

fn bad(spec: &str, reason: &str) -> CaptureError {
    CaptureError::BadSpec {
        spec: spec.to_string(),
        reason: reason.to_string(),
    }
}

/// The highest co-stream guest slot a spec may name.
pub const MAX_GUEST_SLOT: u32 = 16;

fn parse_slot(s: &str, arg: &str) -> Result<u32, CaptureError> {
    match arg.parse::<u32>() {
        Ok(n) if (1..=MAX_GUEST_SLOT).contains(&n) => Ok(n),
        _ => Err(bad(s, "guest slots are numbered guest:1 to guest:16")),
    }
}

impl std::str::FromStr for VideoSpec {
    type Err = CaptureError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, arg) = s.split_once(':').unwrap_or((s, ""));
        match kind {
            "test" if arg.is_empty() || arg == "0" => Ok(Self::Test),
            "test" => match arg.parse::<u32>() {
                Ok(n) if (1..=4000).contains(&n) => Ok(Self::TestCard(n)),
                _ => Err(bad(s, "test cards are numbered test:1 to test:4000")),
            },
            "camera" if !arg.is_empty() => Ok(Self::Camera(arg.to_string())),
            "camera" => Ok(Self::Camera("0".into())),
            "file" if !arg.is_empty() => Ok(Self::File(arg.to_string())),
            "guest" => parse_slot(s, arg).map(Self::Guest),
            "srt" | "rtmp" if arg.starts_with("//") => {
                crate::remote::ListenUrl::parse(s).map(Self::Remote)
            }
            _ => Err(bad(
                s,
                "use test, camera:INDEX|ID, file:PATH, guest:N, srt://0.0.0.0:PORT?mode=listener or rtmp://0.0.0.0:PORT/APP/KEY",
            )),
        }
    }
}

impl std::str::FromStr for AudioSpec {
    type Err = CaptureError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, arg) = s.split_once(':').unwrap_or((s, ""));
        match kind {
            "tone" if arg.is_empty() => Ok(Self::Tone(440.0)),
            "tone" => match arg.parse::<f64>() {
                Ok(hz) if hz > 0.0 && hz < 24_000.0 => Ok(Self::Tone(hz)),
                _ => Err(bad(
                    s,
                    "the tone frequency must be a number of Hz below 24000",
                )),
            },
            "mic" if arg.is_empty() => Ok(Self::Mic("default".into())),
            "mic" => Ok(Self::Mic(arg.to_string())),
            "file" if !arg.is_empty() => Ok(Self::File(arg.to_string())),
            "none" => Ok(Self::None),
            "guest" => parse_slot(s, arg).map(Self::Guest),
            _ => Err(bad(
                s,
                "use tone[:HZ], mic:ID|default, file:PATH, guest:N or none",
            )),
        }
    }
}

impl fmt::Display for VideoSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Test => write!(f, "test"),
            Self::TestCard(n) => write!(f, "test:{n}"),
            Self::Camera(c) => write!(f, "camera:{c}"),
            Self::File(p) => write!(f, "file:{p}"),
            Self::Guest(n) => write!(f, "guest:{n}"),
            Self::Remote(u) => f.write_str(u.as_written()),
        }
    }
}

impl fmt::Display for AudioSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tone(hz) => write!(f, "tone:{hz}"),
            Self::Mic(m) => write!(f, "mic:{m}"),
            Self::File(p) => write!(f, "file:{p}"),
            Self::Guest(n) => write!(f, "guest:{n}"),
            Self::None => write!(f, "none"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_as_documented() {
        assert_eq!("test".parse::<VideoSpec>().unwrap(), VideoSpec::Test);
        assert_eq!(
            "test:2".parse::<VideoSpec>().unwrap(),
            VideoSpec::TestCard(2)
        );
        assert!("test:x".parse::<VideoSpec>().is_err());
        assert_eq!(
            "camera:1".parse::<VideoSpec>().unwrap(),
            VideoSpec::Camera("1".into())
        );
        assert_eq!(
            "file:/a:b.mp4".parse::<VideoSpec>().unwrap(),
            VideoSpec::File("/a:b.mp4".into())
        );
        assert_eq!("tone".parse::<AudioSpec>().unwrap(), AudioSpec::Tone(440.0));
        assert_eq!(
            "tone:1000".parse::<AudioSpec>().unwrap(),
            AudioSpec::Tone(1000.0)
        );
        assert_eq!(
            "mic:default".parse::<AudioSpec>().unwrap(),
            AudioSpec::Mic("default".into())
        );
        assert_eq!("none".parse::<AudioSpec>().unwrap(), AudioSpec::None);
        assert_eq!("guest:2".parse::<VideoSpec>().unwrap(), VideoSpec::Guest(2));
        assert_eq!("guest:2".parse::<AudioSpec>().unwrap(), AudioSpec::Guest(2));
        assert!("guest:0".parse::<VideoSpec>().is_err());
        assert!("guest".parse::<AudioSpec>().is_err());
        let remote = "srt://0.0.0.0:9000?mode=listener";
        let v = remote.parse::<VideoSpec>().unwrap();
        assert!(matches!(&v, VideoSpec::Remote(u) if u.shown() == "srt://0.0.0.0:9000"));
        assert_eq!(v.to_string(), remote);
        assert!(matches!(
            "rtmp://0.0.0.0:1935/live/cam".parse::<VideoSpec>(),
            Ok(VideoSpec::Remote(_))
        ));
    }

    #[test]
    fn bad_specs_say_what_is_accepted() {
        let e = "webcam".parse::<VideoSpec>().unwrap_err().to_string();
        assert!(e.contains("camera:INDEX"), "{e}");
        let e = "tone:loud".parse::<AudioSpec>().unwrap_err().to_string();
        assert!(e.contains("Hz"), "{e}");
    }
}
