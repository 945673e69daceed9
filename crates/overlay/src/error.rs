//! One error type for the crate. Messages say what was wrong and what to do about it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    #[error(
        "canvas is {got} bytes but a {width}x{height} I420 frame needs {expected}: pass the frame's real size"
    )]
    CanvasSize {
        width: u32,
        height: u32,
        expected: usize,
        got: usize,
    },
    #[error("sprite data is {got} bytes, expected width*height*4 = {expected}")]
    BadSprite { expected: usize, got: usize },
    #[error(
        "{what} is {width}x{height}, larger than the {max}x{max} limit: use a smaller image or a smaller scale"
    )]
    TooLarge {
        what: String,
        width: u32,
        height: u32,
        max: u32,
    },
    #[error(
        "image {path} not found: check the path in the scene's overlay list (it is resolved from the app's working directory unless absolute)"
    )]
    ImageNotFound { path: PathBuf },
    #[error("cannot read image {path}: {source}")]
    ImageRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a usable PNG ({reason}): export it again as PNG (RGBA, 8 or 16 bit)")]
    ImageDecode { path: PathBuf, reason: String },
    #[error("image scale {scale} is not usable: give a number above 0 (1.0 = original size)")]
    BadScale { scale: f32 },
    #[error("no overlay with id {id:?}")]
    UnknownId { id: String },
    #[error("an overlay with id {id:?} already exists: ids must be unique within a set")]
    DuplicateId { id: String },
    #[error("overlay {id:?} is a {actual} overlay, not a {wanted} overlay")]
    WrongKind {
        id: String,
        actual: &'static str,
        wanted: &'static str,
    },
}
