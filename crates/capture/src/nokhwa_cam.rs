//! Real cameras through nokhwa (V4L2, AVFoundation, Media Foundation), behind [`CameraDevice`].

use crate::camera::{CameraDevice, CameraMode, RawFrame};
use crate::clock::SessionClock;
use crate::error::CaptureError;
use crate::frame::PixelFormat;
use crate::pool::FramePool;
use nokhwa::Camera;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
    Resolution,
};

/// Formats we can convert, best first for CPU (raw before MJPEG, which needs a decode).
const WANTED: [FrameFormat; 6] = [
    FrameFormat::NV12,
    FrameFormat::YUYV,
    FrameFormat::MJPEG,
    FrameFormat::RAWRGB,
    FrameFormat::RAWBGR,
    FrameFormat::GRAY,
];

fn pixel_format(f: FrameFormat) -> PixelFormat {
    match f {
        FrameFormat::NV12 => PixelFormat::Nv12,
        FrameFormat::YUYV => PixelFormat::Yuyv,
        FrameFormat::MJPEG => PixelFormat::Mjpeg,
        FrameFormat::RAWRGB => PixelFormat::Rgb24,
        FrameFormat::RAWBGR => PixelFormat::Bgr24,
        FrameFormat::GRAY => PixelFormat::Gray8,
    }
}

/// A camera picked by index or by its id/name, asking for a size and rate.
pub struct NokhwaCamera {
    index: CameraIndex,
    want: (u32, u32, u32),
    cam: Option<Camera>,
    mode: Option<CameraMode>,
    pool: FramePool,
}

impl NokhwaCamera {
    pub fn new(spec: &str, width: u32, height: u32, fps: u32) -> Self {
        let index = match spec.parse::<u32>() {
            Ok(i) => CameraIndex::Index(i),
            Err(_) => CameraIndex::String(spec.to_string()),
        };
        Self {
            index,
            want: (width, height, fps),
            cam: None,
            mode: None,
            pool: FramePool::new(crate::pool::SOURCE_KEEP),
        }
    }
}

impl CameraDevice for NokhwaCamera {
    fn name(&self) -> String {
        format!("camera {}", self.index)
    }

    fn open(&mut self, _clock: &SessionClock) -> Result<CameraMode, CaptureError> {
        let (w, h, fps) = self.want;
        let tried = format!(
            "{w}x{h}@{fps} as NV12/YUYV/MJPEG/RGB via {}",
            backend_name()
        );
        let open_err = |reason: String| CaptureError::Open {
            device: self.name(),
            tried: tried.clone(),
            reason,
        };
        if let CameraIndex::Index(i) = self.index {
            let n = list_cameras().map(|c| c.len()).unwrap_or(0);
            if i as usize >= n {
                return Err(open_err(if n == 0 {
                    "no cameras found on this machine".into()
                } else {
                    format!("only {n} camera(s) found (indices 0..{})", n - 1)
                }));
            }
        }
        let req = RequestedFormat::with_formats(
            RequestedFormatType::Closest(CameraFormat::new(
                Resolution::new(w, h),
                FrameFormat::NV12,
                fps,
            )),
            &WANTED,
        );
        let mut cam = Camera::new(self.index.clone(), req).map_err(|e| open_err(e.to_string()))?;
        cam.open_stream().map_err(|e| open_err(e.to_string()))?;
        let f = cam.camera_format();
        let mode = CameraMode {
            width: f.width(),
            height: f.height(),
            fps: f.frame_rate(),
            format: pixel_format(f.format()),
        };
        self.cam = Some(cam);
        self.mode = Some(mode.clone());
        Ok(mode)
    }

    fn next_frame(
        &mut self,
        clock: &SessionClock,
        _stop: &std::sync::atomic::AtomicBool,
    ) -> Result<RawFrame, CaptureError> {
        let name = self.name();
        let cam = self.cam.as_mut().ok_or_else(|| CaptureError::Lost {
            device: name.clone(),
            reason: "not open".into(),
        })?;
        let buf = cam.frame().map_err(|e| CaptureError::Lost {
            device: name,
            reason: e.to_string(),
        })?;
        let captured = clock.now();
        let res = buf.resolution();
        Ok(RawFrame {
            width: res.width(),
            height: res.height(),
            format: pixel_format(buf.source_frame_format()),
            data: self.pool.copy_of(buf.buffer()),
            captured,
        })
    }

    fn close(&mut self) {
        if let Some(mut cam) = self.cam.take() {
            let _ = cam.stop_stream();
        }
    }
}

fn backend_name() -> &'static str {
    match nokhwa::native_api_backend() {
        Some(ApiBackend::Video4Linux) => "V4L2",
        Some(ApiBackend::AVFoundation) => "AVFoundation",
        Some(ApiBackend::MediaFoundation) => "Media Foundation",
        _ => "no camera backend",
    }
}

/// A camera as `devices` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CameraInfo {
    pub index: u32,
    pub id: String,
    pub name: String,
    pub formats: Vec<CameraMode>,
}

/// Lists cameras with the formats each offers. An empty list is a normal answer.
pub fn list_cameras() -> Result<Vec<CameraInfo>, CaptureError> {
    let Some(backend) = nokhwa::native_api_backend() else {
        return Ok(Vec::new());
    };
    let infos = match nokhwa::query(backend) {
        Ok(v) => v,
        // No video devices at all (e.g. no /dev/video*) reads as an empty list.
        Err(e) => {
            tracing::debug!("camera query: {e}");
            return Ok(Vec::new());
        }
    };
    let mut out = Vec::new();
    for (i, info) in infos.into_iter().enumerate() {
        let mut formats = Vec::new();
        let req = RequestedFormat::with_formats(RequestedFormatType::None, &WANTED);
        if let Ok(mut cam) = Camera::new(info.index().clone(), req)
            && let Ok(list) = cam.compatible_camera_formats()
        {
            {
                formats = list
                    .into_iter()
                    .map(|f| CameraMode {
                        width: f.width(),
                        height: f.height(),
                        fps: f.frame_rate(),
                        format: pixel_format(f.format()),
                    })
                    .collect();
            }
        }
        out.push(CameraInfo {
            index: i as u32,
            id: info.index().to_string(),
            name: info.human_name(),
            formats,
        });
    }
    Ok(out)
}
