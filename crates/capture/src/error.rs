use thiserror::Error;

/// What can go wrong opening or reading a source. Messages name the device and what was tried.
#[derive(Debug, Error)]
pub enum CaptureError {
    #[error("{device}: could not open ({tried}): {reason}")]
    Open {
        device: String,
        tried: String,
        reason: String,
    },
    #[error("{device}: stopped delivering: {reason}")]
    Lost { device: String, reason: String },
    #[error("{0}")]
    NotFound(String),
    #[error("invalid source '{spec}': {reason}")]
    BadSpec { spec: String, reason: String },
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
}
