//! The I420 canvas the compositor draws on, and the letterbox that fits any source picture
//! into it (scaled, aspect kept, borders black); the "camera lost" slate.

use crate::error::StudioError;
use ffmpeg_next as ff;
use marquee_capture::{PixelFormat, VideoFrame};
use marquee_scene::Rect;

/// An I420 canvas with a fixed size.
#[derive(Debug, Clone)]
pub struct Canvas {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl Canvas {
    pub fn black(width: u32, height: u32) -> Self {
        let (w, h) = (width as usize, height as usize);
        let mut data = vec![16u8; w * h + w * h / 2];
        data[w * h..].fill(128);
        Self {
            width,
            height,
            data,
        }
    }

    /// The whole canvas as a rectangle.
    pub fn rect(&self) -> Rect {
        Rect {
            x: 0,
            y: 0,
            w: self.width,
            h: self.height,
        }
    }

    /// Paints `r` black (limited-range black, neutral chroma). `r` must lie inside.
    pub fn fill_black(&mut self, r: Rect) {
        let (w, h) = (self.width as usize, self.height as usize);
        let (cw, ch) = (w / 2, h / 2);
        let (y_plane, chroma) = self.data.split_at_mut(w * h);
        for y in r.y as usize..(r.y + r.h) as usize {
            y_plane[y * w + r.x as usize..y * w + (r.x + r.w) as usize].fill(16);
        }
        for y in r.y as usize / 2..((r.y + r.h) as usize / 2).min(ch) {
            let (a, b) = (r.x as usize / 2, ((r.x + r.w) as usize / 2).min(cw));
            chroma[y * cw + a..y * cw + b].fill(128);
            chroma[cw * ch + y * cw + a..cw * ch + y * cw + b].fill(128);
        }
    }

    /// Copies a tightly packed I420 picture of exactly `r`'s size into `r`.
    fn copy_i420(&mut self, r: Rect, src: &[u8]) {
        let (w, h) = (self.width as usize, self.height as usize);
        let (rw, rh) = (r.w as usize, r.h as usize);
        let (x, y) = (r.x as usize, r.y as usize);
        for row in 0..rh {
            let d = (y + row) * w + x;
            self.data[d..d + rw].copy_from_slice(&src[row * rw..(row + 1) * rw]);
        }
        let (cw, ch) = (w / 2, h / 2);
        let (crw, crh) = (rw / 2, rh / 2);
        for plane in 0..2 {
            let dbase = w * h + plane * cw * ch;
            let sbase = rw * rh + plane * crw * crh;
            for row in 0..crh {
                let d = dbase + (y / 2 + row) * cw + x / 2;
                let s = sbase + row * crw;
                self.data[d..d + crw].copy_from_slice(&src[s..s + crw]);
            }
        }
    }

    fn planes_mut(&mut self) -> [(*mut u8, i32); 3] {
        let (w, h) = (self.width as usize, self.height as usize);
        let base = self.data.as_mut_ptr();
        // SAFETY: offsets are within the I420 buffer of w*h*3/2 bytes.
        unsafe {
            [
                (base, w as i32),
                (base.add(w * h), (w / 2) as i32),
                (base.add(w * h + w * h / 4), (w / 2) as i32),
            ]
        }
    }
}

/// The rectangle (x, y, w, h) a `sw`x`sh` picture fills in a `cw`x`ch` canvas, aspect kept.
pub fn fit(sw: u32, sh: u32, cw: u32, ch: u32) -> (u32, u32, u32, u32) {
    if sw == 0 || sh == 0 {
        return (0, 0, cw, ch);
    }
    let (w, h) = if sw as u64 * ch as u64 > sh as u64 * cw as u64 {
        (cw, (sh as u64 * cw as u64 / sw as u64) as u32)
    } else {
        ((sw as u64 * ch as u64 / sh as u64) as u32, ch)
    };
    let (w, h) = ((w & !1).max(2), (h & !1).max(2));
    (((cw - w) / 2) & !1, ((ch - h) / 2) & !1, w, h)
}

fn av_format(f: PixelFormat) -> ff::ffi::AVPixelFormat {
    use ff::ffi::AVPixelFormat::*;
    match f {
        PixelFormat::I420 => AV_PIX_FMT_YUV420P,
        PixelFormat::Nv12 => AV_PIX_FMT_NV12,
        PixelFormat::Yuyv => AV_PIX_FMT_YUYV422,
        PixelFormat::Rgb24 => AV_PIX_FMT_RGB24,
        PixelFormat::Bgr24 => AV_PIX_FMT_BGR24,
        PixelFormat::Bgra => AV_PIX_FMT_BGRA,
        PixelFormat::Gray8 => AV_PIX_FMT_GRAY8,
        PixelFormat::Mjpeg => AV_PIX_FMT_YUVJ422P,
    }
}

/// Plane pointers and strides of a tightly packed frame.
fn src_planes(
    f: PixelFormat,
    w: usize,
    h: usize,
    data: &[u8],
) -> Option<([*const u8; 4], [i32; 4])> {
    let need = f.frame_len(w as u32, h as u32)?;
    if data.len() < need {
        return None;
    }
    let p = data.as_ptr();
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let null = std::ptr::null();
    // SAFETY: offsets stay within `need` bytes, checked above.
    unsafe {
        Some(match f {
            PixelFormat::I420 => (
                [p, p.add(w * h), p.add(w * h + cw * ch), null],
                [w as i32, cw as i32, cw as i32, 0],
            ),
            PixelFormat::Nv12 => (
                [p, p.add(w * h), null, null],
                [w as i32, (2 * cw) as i32, 0, 0],
            ),
            PixelFormat::Yuyv => ([p, null, null, null], [(4 * cw) as i32, 0, 0, 0]),
            PixelFormat::Rgb24 | PixelFormat::Bgr24 => {
                ([p, null, null, null], [(3 * w) as i32, 0, 0, 0])
            }
            PixelFormat::Bgra => ([p, null, null, null], [(4 * w) as i32, 0, 0, 0]),
            PixelFormat::Gray8 => ([p, null, null, null], [w as i32, 0, 0, 0]),
            PixelFormat::Mjpeg => return None,
        })
    }
}

/// A cached swscale context for one source geometry.
struct Scaler {
    key: (u32, u32, ff::ffi::AVPixelFormat, u32, u32),
    ctx: *mut ff::ffi::SwsContext,
}

impl Drop for Scaler {
    fn drop(&mut self) {
        // SAFETY: ctx came from sws_getContext and is freed once.
        unsafe { ff::ffi::sws_freeContext(self.ctx) }
    }
}

/// Converts any source frame into the canvas, letterboxed. Same-size I420 is a plain copy.
pub struct Letterbox {
    scaler: Option<Scaler>,
    mjpeg: Option<ff::decoder::Video>,
}

// SAFETY: the raw swscale context is owned and only used from the compositor thread.
unsafe impl Send for Letterbox {}

impl Default for Letterbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Letterbox {
    pub fn new() -> Self {
        Self {
            scaler: None,
            mjpeg: None,
        }
    }

    /// Draws `f` into the whole `canvas`. Errors mean the frame was unusable (e.g. a
    /// corrupt JPEG).
    pub fn draw(&mut self, f: &VideoFrame, canvas: &mut Canvas) -> Result<(), StudioError> {
        let r = canvas.rect();
        self.draw_in(f.format, f.width, f.height, &f.data, canvas, r)
    }

    /// Draws a `sw`×`sh` picture letterboxed into `rect` of `canvas` (`rect` inside it).
    pub fn draw_in(
        &mut self,
        format: PixelFormat,
        sw: u32,
        sh: u32,
        data: &[u8],
        canvas: &mut Canvas,
        rect: Rect,
    ) -> Result<(), StudioError> {
        if format == PixelFormat::I420 && sw == rect.w && sh == rect.h {
            let n = (sw * sh * 3 / 2) as usize;
            if data.len() >= n {
                canvas.copy_i420(rect, &data[..n]);
                return Ok(());
            }
            return Err(StudioError::Frame("short I420 frame".into()));
        }
        if format == PixelFormat::Mjpeg {
            let decoded = self.decode_jpeg(data)?;
            return self.draw_av(&decoded, canvas, rect);
        }
        let (planes, strides) = src_planes(format, sw as usize, sh as usize, data)
            .ok_or_else(|| StudioError::Frame(format!("{format} frame shorter than {sw}x{sh}")))?;
        self.scale(sw, sh, av_format(format), planes, strides, canvas, rect)
    }

    fn draw_av(
        &mut self,
        f: &ff::frame::Video,
        canvas: &mut Canvas,
        rect: Rect,
    ) -> Result<(), StudioError> {
        let mut planes = [std::ptr::null(); 4];
        let mut strides = [0i32; 4];
        for i in 0..f.planes().min(4) {
            planes[i] = f.data(i).as_ptr();
            strides[i] = f.stride(i) as i32;
        }
        self.scale(
            f.width(),
            f.height(),
            f.format().into(),
            planes,
            strides,
            canvas,
            rect,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn scale(
        &mut self,
        sw: u32,
        sh: u32,
        fmt: ff::ffi::AVPixelFormat,
        planes: [*const u8; 4],
        strides: [i32; 4],
        canvas: &mut Canvas,
        rect: Rect,
    ) -> Result<(), StudioError> {
        let (x, y, w, h) = fit(sw, sh, rect.w, rect.h);
        let (x, y) = (x + rect.x, y + rect.y);
        let key = (sw, sh, fmt, w, h);
        if self.scaler.as_ref().map(|s| s.key) != Some(key) {
            // SAFETY: plain constructor; null on failure, checked below.
            // The flag's integer type differs between FFmpeg versions.
            #[allow(clippy::unnecessary_cast)]
            let ctx = unsafe {
                ff::ffi::sws_getContext(
                    sw as i32,
                    sh as i32,
                    fmt,
                    w as i32,
                    h as i32,
                    ff::ffi::AVPixelFormat::AV_PIX_FMT_YUV420P,
                    ff::ffi::SWS_BILINEAR as i32,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null(),
                )
            };
            if ctx.is_null() {
                return Err(StudioError::Frame(format!(
                    "cannot convert {sw}x{sh} {fmt:?}"
                )));
            }
            self.scaler = Some(Scaler { key, ctx });
            // New geometry: clear the borders once.
            canvas.fill_black(rect);
        }
        let ctx = self.scaler.as_ref().expect("set above").ctx;
        let dst = canvas.planes_mut();
        let (xu, yu) = ((x / 2) as usize, (y / 2) as usize);
        // SAFETY: destination pointers are offset into the canvas so the fitted rectangle
        // (w x h at x,y) lies inside it; sources were length-checked by the caller.
        unsafe {
            let dst_ptrs = [
                dst[0].0.add(y as usize * dst[0].1 as usize + x as usize),
                dst[1].0.add(yu * dst[1].1 as usize + xu),
                dst[2].0.add(yu * dst[2].1 as usize + xu),
                std::ptr::null_mut(),
            ];
            let dst_strides = [dst[0].1, dst[1].1, dst[2].1, 0];
            ff::ffi::sws_scale(
                ctx,
                planes.as_ptr(),
                strides.as_ptr(),
                0,
                sh as i32,
                dst_ptrs.as_ptr(),
                dst_strides.as_ptr(),
            );
        }
        Ok(())
    }

    fn decode_jpeg(&mut self, data: &[u8]) -> Result<ff::frame::Video, StudioError> {
        if self.mjpeg.is_none() {
            self.mjpeg = Some(open_image_decoder(ff::codec::Id::MJPEG)?);
        }
        decode_one(self.mjpeg.as_mut().expect("set above"), data)
    }
}

fn open_image_decoder(id: ff::codec::Id) -> Result<ff::decoder::Video, StudioError> {
    crate::util::init();
    let codec =
        ff::decoder::find(id).ok_or_else(|| StudioError::Frame(format!("no {id:?} decoder")))?;
    ff::codec::context::Context::new_with_codec(codec)
        .decoder()
        .video()
        .map_err(|e| StudioError::Frame(e.to_string()))
}

fn decode_one(dec: &mut ff::decoder::Video, data: &[u8]) -> Result<ff::frame::Video, StudioError> {
    let pkt = ff::Packet::copy(data);
    dec.send_packet(&pkt)
        .map_err(|e| StudioError::Frame(format!("undecodable image: {e}")))?;
    let mut f = ff::frame::Video::empty();
    dec.receive_frame(&mut f)
        .map_err(|e| StudioError::Frame(format!("undecodable image: {e}")))?;
    Ok(f)
}

/// The "camera lost" slate (assets/slate.png) rendered at the canvas size.
pub fn slate(width: u32, height: u32) -> Canvas {
    static PNG: &[u8] = include_bytes!("../../../../assets/slate.png");
    let mut canvas = Canvas::black(width, height);
    let drawn = open_image_decoder(ff::codec::Id::PNG)
        .and_then(|mut d| decode_one(&mut d, PNG))
        .and_then(|f| {
            let r = canvas.rect();
            Letterbox::new().draw_av(&f, &mut canvas, r)
        });
    if let Err(e) = drawn {
        tracing::warn!("slate image unusable ({e}); using black");
    }
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn letterbox_keeps_aspect_and_centres() {
        assert_eq!(fit(1280, 720, 1280, 720), (0, 0, 1280, 720));
        assert_eq!(fit(640, 480, 1280, 720), (160, 0, 960, 720));
        assert_eq!(fit(1920, 800, 1280, 720), (0, 94, 1280, 532));
    }

    #[test]
    fn a_smaller_source_is_scaled_into_the_canvas_with_its_code_readable() {
        let mut data = Vec::new();
        marquee_capture::pattern::render_i420(&mut data, 640, 360, 42, 1400);
        let f = VideoFrame {
            width: 640,
            height: 360,
            format: PixelFormat::I420,
            data: data.into(),
            captured: Duration::ZERO,
            seq: 0,
        };
        let mut canvas = Canvas::black(1280, 720);
        Letterbox::new().draw(&f, &mut canvas).unwrap();
        let code = marquee_capture::pattern::read_code(&canvas.data, 1280, 1280, 720).unwrap();
        assert_eq!((code.index, code.session_ms), (42, 1400));
    }

    /// JPEG-encodes an I420 test frame with FFmpeg's MJPEG encoder (what a webcam sends).
    fn jpeg_of(i420: &[u8], w: u32, h: u32) -> Vec<u8> {
        crate::util::init();
        let codec = ff::encoder::find(ff::codec::Id::MJPEG).expect("mjpeg encoder");
        let mut enc = ff::codec::context::Context::new_with_codec(codec)
            .encoder()
            .video()
            .unwrap();
        enc.set_width(w);
        enc.set_height(h);
        enc.set_format(ff::format::Pixel::YUVJ420P);
        enc.set_time_base((1, 30));
        let mut opts = ff::Dictionary::new();
        opts.set("q:v", "2");
        let mut enc = enc.open_with(opts).unwrap();
        let mut f = ff::frame::Video::new(ff::format::Pixel::YUVJ420P, w, h);
        let (wu, hu) = (w as usize, h as usize);
        for (plane, pw, ph, off) in [
            (0, wu, hu, 0),
            (1, wu / 2, hu / 2, wu * hu),
            (2, wu / 2, hu / 2, wu * hu * 5 / 4),
        ] {
            let stride = f.stride(plane);
            for y in 0..ph {
                f.data_mut(plane)[y * stride..y * stride + pw]
                    .copy_from_slice(&i420[off + y * pw..off + (y + 1) * pw]);
            }
        }
        f.set_pts(Some(0));
        enc.send_frame(&f).unwrap();
        enc.send_eof().unwrap();
        let mut pkt = ff::Packet::empty();
        enc.receive_packet(&mut pkt).unwrap();
        pkt.data().unwrap().to_vec()
    }

    #[test]
    fn mjpeg_frames_from_a_webcam_are_decoded_and_scaled_into_the_canvas() {
        let mut data = Vec::new();
        marquee_capture::pattern::render_i420(&mut data, 640, 360, 7, 233);
        let f = VideoFrame {
            width: 640,
            height: 360,
            format: PixelFormat::Mjpeg,
            data: jpeg_of(&data, 640, 360).into(),
            captured: Duration::ZERO,
            seq: 0,
        };
        let mut canvas = Canvas::black(1280, 720);
        let mut lb = Letterbox::new();
        lb.draw(&f, &mut canvas).unwrap();
        let code = marquee_capture::pattern::read_code(&canvas.data, 1280, 1280, 720).unwrap();
        assert_eq!((code.index, code.session_ms), (7, 233));
        // A corrupt JPEG is an error for that frame, not a panic.
        let bad = VideoFrame {
            data: vec![0xFF, 0xD8, 1, 2, 3].into(),
            ..f
        };
        assert!(lb.draw(&bad, &mut canvas).is_err());
    }

    #[test]
    fn rgb_and_yuyv_sources_convert() {
        let mut canvas = Canvas::black(64, 36);
        let rgb = VideoFrame {
            width: 32,
            height: 18,
            format: PixelFormat::Rgb24,
            data: vec![255; 32 * 18 * 3].into(),
            captured: Duration::ZERO,
            seq: 0,
        };
        Letterbox::new().draw(&rgb, &mut canvas).unwrap();
        assert!(
            canvas.data[64 * 18 + 32] > 200,
            "white source gives bright luma"
        );
        let short = VideoFrame {
            format: PixelFormat::Yuyv,
            data: vec![0; 10].into(),
            ..rgb
        };
        assert!(Letterbox::new().draw(&short, &mut canvas).is_err());
    }

    #[test]
    fn the_slate_is_not_black() {
        let s = slate(640, 360);
        assert!(s.data[..640 * 360].iter().any(|&y| y > 100));
    }
}
