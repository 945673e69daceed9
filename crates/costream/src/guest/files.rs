//! The return feed written to files: WAV (48 kHz stereo, 16-bit) and Y4M (I420).

use super::types::GuestError;
use crate::media::{DecodedVideo, RATE};
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

fn out_err(path: &Path) -> impl Fn(std::io::Error) -> GuestError + '_ {
    move |e| GuestError::Output {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// A WAV file whose sizes are written when it is finished.
pub struct WavWriter {
    path: PathBuf,
    out: BufWriter<File>,
    bytes: u64,
}

impl WavWriter {
    pub fn create(path: &Path) -> Result<Self, GuestError> {
        let mut out = BufWriter::new(File::create(path).map_err(out_err(path))?);
        out.write_all(&header(0)).map_err(out_err(path))?;
        Ok(Self {
            path: path.to_path_buf(),
            out,
            bytes: 0,
        })
    }

    /// Appends stereo interleaved samples.
    pub fn write(&mut self, stereo: &[f32]) -> Result<(), GuestError> {
        let mut b = Vec::with_capacity(stereo.len() * 2);
        for s in stereo {
            b.extend_from_slice(&((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes());
        }
        self.bytes += b.len() as u64;
        self.out.write_all(&b).map_err(out_err(&self.path))
    }

    /// Writes the sizes into the header.
    pub fn finish(mut self) -> Result<(), GuestError> {
        let path = self.path.clone();
        let e = out_err(&path);
        let len = self.bytes.min(u32::MAX as u64 - 36) as u32;
        self.out.seek(SeekFrom::Start(0)).map_err(&e)?;
        self.out.write_all(&header(len)).map_err(&e)?;
        self.out.flush().map_err(&e)
    }
}

fn header(data: u32) -> [u8; 44] {
    let mut h = [0u8; 44];
    let (ch, bits) = (2u16, 16u16);
    let block = ch * bits / 8;
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&(36 + data).to_le_bytes());
    h[8..16].copy_from_slice(b"WAVEfmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes());
    h[22..24].copy_from_slice(&ch.to_le_bytes());
    h[24..28].copy_from_slice(&RATE.to_le_bytes());
    h[28..32].copy_from_slice(&(RATE * block as u32).to_le_bytes());
    h[32..34].copy_from_slice(&block.to_le_bytes());
    h[34..36].copy_from_slice(&bits.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data.to_le_bytes());
    h
}

/// A Y4M file at the first picture's size; later pictures of another size are skipped.
pub struct Y4mWriter {
    path: PathBuf,
    fps: u32,
    out: Option<BufWriter<File>>,
    size: (u32, u32),
    pub skipped: u64,
}

impl Y4mWriter {
    pub fn create(path: &Path, fps: u32) -> Result<Self, GuestError> {
        // Created now so a bad path fails before the call starts.
        let f = File::create(path).map_err(out_err(path))?;
        Ok(Self {
            path: path.to_path_buf(),
            fps,
            out: Some(BufWriter::new(f)),
            size: (0, 0),
            skipped: 0,
        })
    }

    pub fn write(&mut self, pic: &DecodedVideo) -> Result<(), GuestError> {
        let e = out_err(&self.path);
        let Some(out) = self.out.as_mut() else {
            return Ok(());
        };
        if self.size == (0, 0) {
            self.size = (pic.width, pic.height);
            writeln!(
                out,
                "YUV4MPEG2 W{} H{} F{}:1 Ip A1:1 C420jpeg",
                pic.width, pic.height, self.fps
            )
            .map_err(&e)?;
        }
        if self.size != (pic.width, pic.height) {
            self.skipped += 1;
            return Ok(());
        }
        out.write_all(b"FRAME\n").map_err(&e)?;
        out.write_all(&pic.i420).map_err(&e)
    }

    pub fn finish(mut self) -> Result<(), GuestError> {
        match self.out.take() {
            Some(mut o) => o.flush().map_err(out_err(&self.path)),
            None => Ok(()),
        }
    }
}
