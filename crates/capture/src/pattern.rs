//! The synthetic camera's picture: moving colour bars, a moving box, a human-readable
//! clock, and a machine-readable code carrying the frame index and the session time,
//! so tests can check continuity and latency from decoded frames.
//!
//! The code is two rows of black/white cells in the top-left corner. A cell is
//! `cell_size(width)` pixels square, so the code survives scaling as long as the aspect
//! ratio is kept. Each row is 4 sync cells, 32 data bits (LSB first) and an 8-bit check.

/// What the code in a frame says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameCode {
    /// The source frame index, counting from 0.
    pub index: u64,
    /// Session time in milliseconds when the frame was made (wraps at 2^32 ms, ~49 days).
    pub session_ms: u64,
}

const SYNC: [[bool; 4]; 2] = [[true, false, true, false], [false, true, false, true]];
const BLACK: u8 = 16;
const WHITE: u8 = 235;

/// Cell edge in pixels for a frame of this width (even, at least 4).
pub fn cell_size(width: u32) -> usize {
    ((width as usize / 64) & !1).max(4)
}

fn check(v: u32) -> u8 {
    let b = v.to_le_bytes();
    b[0] ^ b[1].rotate_left(1) ^ b[2].rotate_left(2) ^ b[3].rotate_left(3) ^ 0xA5
}

fn row_bits(row: usize, value: u32) -> [bool; 44] {
    let mut bits = [false; 44];
    bits[..4].copy_from_slice(&SYNC[row]);
    for i in 0..32 {
        bits[4 + i] = (value >> i) & 1 == 1;
    }
    let c = check(value);
    for i in 0..8 {
        bits[36 + i] = (c >> i) & 1 == 1;
    }
    bits
}

/// Draws the code into a luma plane.
pub fn write_code(luma: &mut [u8], stride: usize, width: u32, height: u32, code: FrameCode) {
    let c = cell_size(width);
    if 45 * c > width as usize || 3 * c > height as usize {
        return;
    }
    let values = [code.index as u32, code.session_ms as u32];
    for (row, value) in values.into_iter().enumerate() {
        let bits = row_bits(row, value);
        for y in (row + 1) * c..(row + 2) * c {
            let line = &mut luma[y * stride..y * stride + width as usize];
            for (i, bit) in bits.iter().enumerate() {
                let x0 = c / 2 + i * c;
                line[x0..x0 + c].fill(if *bit { WHITE } else { BLACK });
            }
        }
    }
}

/// Reads the code from a luma plane; None if it is absent or damaged.
pub fn read_code(luma: &[u8], stride: usize, width: u32, height: u32) -> Option<FrameCode> {
    let c = cell_size(width);
    if 45 * c > width as usize || 3 * c > height as usize || luma.len() < 3 * c * stride {
        return None;
    }
    let mut values = [0u32; 2];
    for (row, value) in values.iter_mut().enumerate() {
        let mut bits = [false; 44];
        for (i, bit) in bits.iter_mut().enumerate() {
            // Average the inner half of the cell: edges ring after compression and scaling.
            let (x0, y0) = (c / 2 + i * c + c / 4, (row + 1) * c + c / 4);
            let mut sum = 0u32;
            for y in y0..y0 + c / 2 {
                for x in x0..x0 + c / 2 {
                    sum += luma[y * stride + x] as u32;
                }
            }
            *bit = sum / ((c / 2) * (c / 2)) as u32 >= 128;
        }
        if bits[..4] != SYNC[row] {
            return None;
        }
        let v = (0..32).fold(0u32, |v, i| v | ((bits[4 + i] as u32) << i));
        let chk = (0..8).fold(0u8, |v, i| v | ((bits[36 + i] as u8) << i));
        if chk != check(v) {
            return None;
        }
        *value = v;
    }
    Some(FrameCode {
        index: values[0] as u64,
        session_ms: values[1] as u64,
    })
}

/// 3x5 digit glyphs, one row per u8 (3 low bits, MSB left).
const DIGITS: [[u8; 5]; 11] = [
    [7, 5, 5, 5, 7],
    [2, 6, 2, 2, 7],
    [7, 1, 7, 4, 7],
    [7, 1, 7, 1, 7],
    [5, 5, 7, 1, 1],
    [7, 4, 7, 1, 7],
    [7, 4, 7, 5, 7],
    [7, 1, 1, 2, 2],
    [7, 5, 7, 5, 7],
    [7, 5, 7, 1, 7],
    [0, 0, 0, 0, 2], // '.'
];

fn draw_text(luma: &mut [u8], stride: usize, x: usize, y: usize, scale: usize, text: &str) {
    let mut cx = x;
    for ch in text.chars() {
        let glyph = match ch {
            '0'..='9' => Some(DIGITS[ch as usize - '0' as usize]),
            '.' | ':' => Some(DIGITS[10]),
            _ => None,
        };
        if let Some(g) = glyph {
            for (gy, bits) in g.iter().enumerate() {
                for gx in 0..3 {
                    if bits >> (2 - gx) & 1 == 1 {
                        for yy in 0..scale {
                            let row = (y + gy * scale + yy) * stride;
                            let start = row + cx + gx * scale;
                            if let Some(px) = luma.get_mut(start..start + scale) {
                                px.fill(WHITE);
                            }
                        }
                    }
                }
            }
        }
        cx += 4 * scale;
    }
}

/// BT.601 limited-range YUV of the eight classic bars.
const BARS: [(u8, u8, u8); 8] = [
    (180, 128, 128),
    (168, 44, 136),
    (145, 147, 44),
    (133, 63, 52),
    (63, 193, 204),
    (51, 109, 212),
    (28, 212, 120),
    (16, 128, 128),
];

/// Renders frame `index` of the pattern into a tightly packed I420 buffer.
/// `width` and `height` must be even. Cheap: rows are built once and copied.
pub fn render_i420(buf: &mut Vec<u8>, width: u32, height: u32, index: u64, session_ms: u64) {
    let (w, h) = (width as usize, height as usize);
    let (cw, ch) = (w / 2, h / 2);
    buf.resize(w * h + 2 * cw * ch, 0);
    let (y_plane, chroma) = buf.split_at_mut(w * h);
    let (u_plane, v_plane) = chroma.split_at_mut(cw * ch);

    // Static bars, like a broadcast test card: motion comes from the box, the code and the
    // clock. (Scrolling the whole frame made every macroblock change, which tripled x264's
    // work compared with the ffmpeg CLI's testsrc2 and made the benchmark unfair.)
    let bar_of = |x: usize| x * 8 / w;
    let mut row_y = vec![0u8; w];
    let mut row_u = vec![0u8; cw];
    let mut row_v = vec![0u8; cw];
    for (x, p) in row_y.iter_mut().enumerate() {
        *p = BARS[bar_of(x)].0;
    }
    for x in 0..cw {
        let b = BARS[bar_of(2 * x)];
        row_u[x] = b.1;
        row_v[x] = b.2;
    }
    for y in 0..h {
        y_plane[y * w..(y + 1) * w].copy_from_slice(&row_y);
    }
    for y in 0..ch {
        u_plane[y * cw..(y + 1) * cw].copy_from_slice(&row_u);
        v_plane[y * cw..(y + 1) * cw].copy_from_slice(&row_v);
    }

    // A white box bouncing along the lower half, so motion is visible.
    let bw = (w / 8) & !1;
    let span = (w - bw).max(1);
    let period = 2 * span;
    let p = (index as usize * 8) % period;
    let bx = (if p < span { p } else { period - p }) & !1;
    let by = (h / 2) & !1;
    for y in by..(by + bw).min(h) {
        y_plane[y * w + bx..y * w + bx + bw].fill(WHITE);
    }
    for y in by / 2..((by + bw) / 2).min(ch) {
        u_plane[y * cw + bx / 2..y * cw + (bx + bw) / 2].fill(128);
        v_plane[y * cw + bx / 2..y * cw + (bx + bw) / 2].fill(128);
    }

    // Neutral chroma behind the code so it reads the same in any decoder.
    let c = cell_size(width);
    for y in 0..(3 * c / 2).min(ch) {
        let end = (46 * c / 2).min(cw);
        u_plane[y * cw..y * cw + end].fill(128);
        v_plane[y * cw..y * cw + end].fill(128);
    }
    for y in 0..(3 * c).min(h) {
        y_plane[y * w..y * w + (46 * c).min(w)].fill(BLACK);
    }
    write_code(y_plane, w, width, height, FrameCode { index, session_ms });

    // Human-readable frame number and session time under the code.
    let scale = (c / 2).max(2);
    let secs = session_ms / 1000;
    let text = format!(
        "{index:06} {:02}:{:02}:{:02}.{:03}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        session_ms % 1000
    );
    let ty = 4 * c;
    if ty + 6 * scale < h {
        let end = (text.len() * 4 * scale + 2 * scale).min(w - c);
        for y in ty - scale..ty + 6 * scale {
            y_plane[y * w + c / 2..y * w + c / 2 + end].fill(BLACK);
        }
        for y in (ty - scale) / 2..(ty + 6 * scale).div_ceil(2) {
            u_plane[y * cw + c / 4..y * cw + (c / 2 + end).div_ceil(2)].fill(128);
            v_plane[y * cw + c / 4..y * cw + (c / 2 + end).div_ceil(2)].fill(128);
        }
        draw_text(y_plane, w, c, ty, scale, &text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_round_trips_through_a_rendered_frame() {
        for (w, h) in [(640, 360), (1280, 720), (1920, 1080), (320, 180)] {
            let mut buf = Vec::new();
            let code = FrameCode {
                index: 123_456,
                session_ms: 4_100_321,
            };
            render_i420(&mut buf, w, h, code.index, code.session_ms);
            assert_eq!(read_code(&buf, w as usize, w, h), Some(code), "{w}x{h}");
        }
    }

    #[test]
    fn a_frame_without_a_code_reads_as_none() {
        let luma = vec![128u8; 640 * 360];
        assert_eq!(read_code(&luma, 640, 640, 360), None);
    }

    #[test]
    fn a_damaged_code_fails_its_check() {
        let mut buf = Vec::new();
        render_i420(&mut buf, 640, 360, 7, 1000);
        let c = cell_size(640);
        // Flip one data cell of the index row.
        let (x0, y0) = (c / 2 + 10 * c, c);
        let v = buf[(y0 + c / 2) * 640 + x0 + c / 2];
        for y in y0..y0 + c {
            buf[y * 640 + x0..y * 640 + x0 + c].fill(if v > 128 { BLACK } else { WHITE });
        }
        assert_eq!(read_code(&buf, 640, 640, 360), None);
    }

    #[test]
    fn code_survives_mild_noise() {
        let mut buf = Vec::new();
        render_i420(&mut buf, 640, 360, 99, 3300);
        let mut seed = 1u32;
        for p in buf.iter_mut().take(640 * 360) {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let noise = ((seed >> 16) % 41) as i32 - 20;
            *p = (*p as i32 + noise).clamp(0, 255) as u8;
        }
        assert_eq!(
            read_code(&buf, 640, 640, 360),
            Some(FrameCode {
                index: 99,
                session_ms: 3300
            })
        );
    }
}
