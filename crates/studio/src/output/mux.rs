//! A muxer over FFmpeg's libavformat: open (with an interrupt so a stop never waits on a
//! dead socket), describe the streams, write shared packets, finish.

use crate::packet::{Packet, StreamInfo, Track};
use ffmpeg_next as ff;
use std::ffi::CString;
use std::os::raw::{c_int, c_void};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

extern "C" fn interrupted(opaque: *mut c_void) -> c_int {
    // SAFETY: opaque is the AtomicBool inside the Arc the Muxer keeps alive.
    let flag = unsafe { &*(opaque as *const AtomicBool) };
    flag.load(Ordering::Relaxed) as c_int
}

/// An open container being written.
pub struct Muxer {
    octx: ff::format::context::Output,
    /// Stream index per track, and the stream's time base after write_header.
    map: [Option<(usize, ff::Rational)>; 2],
    src_tb: [ff::Rational; 2],
    /// Keeps the interrupt flag alive as long as FFmpeg may read it.
    _abort: Arc<AtomicBool>,
}

/// Why a muxer failed, in our words (FFmpeg's own log is silenced: it may print URLs), and
/// the OS error behind it when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MuxError {
    message: String,
    errno: Option<i32>,
}

impl MuxError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            errno: None,
        }
    }

    /// `what: FFmpeg's reason`, keeping the OS error number it carries.
    fn ff(what: &str, e: ff::Error) -> Self {
        Self {
            message: format!("{what}: {e}"),
            errno: match e {
                ff::Error::Other { errno } => Some(errno),
                _ => None,
            },
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The write failed because the disk (or the user's quota on it) is full.
    pub fn disk_full(&self) -> bool {
        self.errno.is_some_and(crate::disk::is_full_errno)
    }
}

impl std::fmt::Display for MuxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MuxError {}

fn av_err(what: &str, code: c_int) -> MuxError {
    MuxError::ff(what, ff::Error::from(code))
}

impl Muxer {
    /// Opens `target` (a URL or a path) with the named container format.
    /// `io_opts` go to the protocol (e.g. rw_timeout), `mux_opts` to the muxer.
    pub fn open(
        target: &str,
        format: &str,
        streams: &[StreamInfo],
        io_opts: &[(&str, &str)],
        mux_opts: &[(&str, &str)],
        abort: Arc<AtomicBool>,
    ) -> Result<Self, MuxError> {
        crate::util::init();
        let c_target = CString::new(target).map_err(|_| MuxError::new("target has a NUL byte"))?;
        let c_format = CString::new(format).map_err(|_| MuxError::new("bad format name"))?;
        let mut ps: *mut ff::ffi::AVFormatContext = std::ptr::null_mut();
        // SAFETY: standard libavformat output setup; every pointer is checked, and on
        // failure the context is freed before returning.
        unsafe {
            let r = ff::ffi::avformat_alloc_output_context2(
                &mut ps,
                std::ptr::null_mut(),
                c_format.as_ptr(),
                c_target.as_ptr(),
            );
            if r < 0 || ps.is_null() {
                return Err(av_err("cannot create the muxer", r));
            }
            (*ps).interrupt_callback = ff::ffi::AVIOInterruptCB {
                callback: Some(interrupted),
                opaque: Arc::as_ptr(&abort) as *mut c_void,
            };
            let mut dict = ff::Dictionary::new();
            for (k, v) in io_opts {
                dict.set(k, v);
            }
            let mut raw = dict.disown();
            let r = ff::ffi::avio_open2(
                &mut (*ps).pb,
                c_target.as_ptr(),
                ff::ffi::AVIO_FLAG_WRITE,
                &(*ps).interrupt_callback,
                &mut raw,
            );
            ff::ffi::av_dict_free(&mut raw);
            if r < 0 {
                ff::ffi::avformat_free_context(ps);
                return Err(av_err("cannot connect", r));
            }
            let mut octx = ff::format::context::Output::wrap(ps);
            (*ps).max_interleave_delta = 1_000_000;
            let mut map = [None, None];
            let mut src_tb = [ff::Rational(1, 1); 2];
            for s in streams {
                let codec = ff::encoder::find(s.params.id());
                let mut st = octx
                    .add_stream(codec)
                    .map_err(|e| MuxError::ff("cannot add a stream", e))?;
                st.set_parameters(s.params.clone());
                // The muxer must not inherit the encoder's codec tag.
                (*(*st.as_mut_ptr()).codecpar).codec_tag = 0;
                st.set_time_base(s.time_base);
                let idx = st.index();
                map[s.track as usize] = Some((idx, ff::Rational(0, 1)));
                src_tb[s.track as usize] = ff::Rational(s.time_base.0, s.time_base.1);
            }
            let mut opts = ff::Dictionary::new();
            for (k, v) in mux_opts {
                opts.set(k, v);
            }
            octx.write_header_with(opts)
                .map_err(|e| MuxError::ff("the server or file refused the stream header", e))?;
            for slot in map.iter_mut().flatten() {
                let st = octx.stream(slot.0).expect("stream was added");
                slot.1 = st.time_base();
            }
            Ok(Self {
                octx,
                map,
                src_tb,
                _abort: abort,
            })
        }
    }

    /// Writes one packet (rescaled to the stream's time base). Returns bytes written.
    pub fn write(&mut self, p: &Packet) -> Result<usize, MuxError> {
        let Some((index, dst_tb)) = self.map[p.track as usize] else {
            return Ok(0);
        };
        let mut pkt = ff::Packet::copy(&p.data);
        pkt.set_stream(index);
        pkt.set_pts(Some(p.pts));
        pkt.set_dts(Some(p.dts));
        pkt.set_duration(p.duration);
        if p.key {
            pkt.set_flags(ff::codec::packet::Flags::KEY);
        }
        pkt.rescale_ts(self.src_tb[p.track as usize], dst_tb);
        pkt.write_interleaved(&mut self.octx)
            .map_err(|e| MuxError::ff("write failed", e))?;
        Ok(p.data.len())
    }

    /// Flushes and finalises (duration, index). Errors are reported, the file stays playable.
    pub fn finish(mut self) -> Result<(), MuxError> {
        self.octx
            .write_trailer()
            .map_err(|e| MuxError::ff("finishing failed", e))
    }

    /// Bytes written so far: the end of a file being written (it only grows until finished).
    pub fn position(&mut self) -> u64 {
        // SAFETY: `pb` is the open output's I/O context (or null); a zero seek from the
        // current position only reads it.
        unsafe {
            let pb = (*self.octx.as_mut_ptr()).pb;
            if pb.is_null() {
                return 0;
            }
            ff::ffi::avio_seek(pb, 0, libc::SEEK_CUR).max(0) as u64
        }
    }

    /// True if this muxer has the track.
    pub fn has(&self, t: Track) -> bool {
        self.map[t as usize].is_some()
    }
}
