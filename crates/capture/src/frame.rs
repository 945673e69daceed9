//! Frames and sample blocks as they leave a source.

use std::time::Duration;

/// Pixel layouts a source may deliver. Everything is converted to I420 by the compositor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PixelFormat {
    /// Planar Y, U, V (4:2:0): the compositor's and the encoder's format.
    I420,
    /// Y plane then interleaved UV (4:2:0).
    Nv12,
    /// Packed Y0 U Y1 V (4:2:2).
    Yuyv,
    /// Packed R, G, B.
    Rgb24,
    /// Packed B, G, R, A.
    Bgra,
    /// Packed B, G, R.
    Bgr24,
    /// Luma only.
    Gray8,
    /// A JPEG image per frame (decoded by the compositor).
    Mjpeg,
}

impl std::fmt::Display for PixelFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Self::I420 => "i420",
            Self::Nv12 => "nv12",
            Self::Yuyv => "yuyv",
            Self::Rgb24 => "rgb24",
            Self::Bgra => "bgra",
            Self::Bgr24 => "bgr24",
            Self::Gray8 => "gray8",
            Self::Mjpeg => "mjpeg",
        };
        f.write_str(s)
    }
}

impl PixelFormat {
    /// Bytes of a tightly packed frame, or None for compressed formats.
    pub fn frame_len(self, width: u32, height: u32) -> Option<usize> {
        let (w, h) = (width as usize, height as usize);
        let cw = w.div_ceil(2);
        let ch = h.div_ceil(2);
        match self {
            Self::I420 | Self::Nv12 => Some(w * h + 2 * cw * ch),
            Self::Yuyv => Some(cw * 2 * 2 * h),
            Self::Rgb24 | Self::Bgr24 => Some(w * h * 3),
            Self::Gray8 => Some(w * h),
            Self::Bgra => Some(w * h * 4),
            Self::Mjpeg => None,
        }
    }
}

/// One captured picture, tightly packed, stamped on the session clock.
#[derive(Clone)]
pub struct VideoFrame {
    pub width: u32,
    pub height: u32,
    pub format: PixelFormat,
    /// From the source's [`crate::pool::FramePool`]: goes back to it when the last user drops it.
    pub data: crate::pool::FrameBuf,
    /// Session time at which the picture was taken.
    pub captured: Duration,
    /// The source's own frame counter.
    pub seq: u64,
}

impl std::fmt::Debug for VideoFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoFrame")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("format", &self.format)
            .field("bytes", &self.data.len())
            .field("captured", &self.captured)
            .field("seq", &self.seq)
            .finish()
    }
}

/// Interleaved f32 samples as a device delivered them, stamped with the session
/// time of the first sample.
#[derive(Debug, Clone)]
pub struct AudioBlock {
    pub rate: u32,
    pub channels: u16,
    pub samples: Vec<f32>,
    pub captured: Duration,
}

impl AudioBlock {
    /// Frames (samples per channel) in the block.
    pub fn frames(&self) -> usize {
        self.samples.len() / self.channels.max(1) as usize
    }
}
