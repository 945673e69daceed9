//! H.264 bitstream framing that a cut rewrites: the avcC record (a recording's
//! `AVCDecoderConfigurationRecord`, ISO/IEC 14496-15 §5.2.4.1) and NAL units as Annex B
//! (start codes) or length-prefixed. The bytes come from files, so nothing here trusts them:
//! a short or inconsistent record is an error that says what is wrong, never a panic.
//!
//! Dependency-free on purpose: the fuzz target (`fuzz/fuzz_targets/avcc.rs`) compiles this
//! file alone, without FFmpeg.

use std::fmt;

/// An avcC record that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcError(String);

impl fmt::Display for AvcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the video's H.264 header (avcC) {}", self.0)
    }
}

impl std::error::Error for AvcError {}

fn truncated(what: &str, at: usize, len: usize) -> AvcError {
    AvcError(format!(
        "is truncated: {what} at byte {at} is past its end ({len} bytes)"
    ))
}

/// What a cut needs of an avcC record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcConfig<'a> {
    /// Bytes of each NAL unit's length prefix in the samples: 1, 2 or 4.
    pub nal_length_size: usize,
    /// The SPS then the PPS NAL units, as stored.
    pub parameter_sets: Vec<&'a [u8]>,
}

/// Reads an avcC record. `Ok(None)` when `extra` is not one (empty, or Annex B extradata: the
/// stream carries its parameter sets in-band); an error when it is one but cut short or
/// inconsistent.
pub fn parse_avcc(extra: &[u8]) -> Result<Option<AvcConfig<'_>>, AvcError> {
    if extra.first() != Some(&1) {
        return Ok(None);
    }
    // version, profile, compatibility, level, 6 bits reserved + lengthSizeMinusOne.
    let Some(&sizes) = extra.get(4) else {
        return Err(truncated("the NAL length size", 4, extra.len()));
    };
    let nal_length_size = (sizes & 3) as usize + 1;
    if nal_length_size == 3 {
        return Err(AvcError(
            "says NAL units have 3-byte lengths, which H.264 does not allow".into(),
        ));
    }
    let mut parameter_sets = Vec::new();
    let mut i = 5;
    for (name, mask) in [("SPS", 0x1f), ("PPS", 0xff)] {
        let count = *extra
            .get(i)
            .ok_or_else(|| truncated(&format!("the {name} count"), i, extra.len()))?
            & mask;
        if count == 0 && name == "SPS" {
            // Nothing to decode the pictures with: a cut could not put it back in-band.
            return Err(AvcError("has no SPS (its count is zero)".into()));
        }
        i += 1;
        for n in 0..count {
            let len = match extra.get(i..i + 2) {
                Some(b) => u16::from_be_bytes([b[0], b[1]]) as usize,
                None => {
                    return Err(truncated(
                        &format!("the length of {name} {}", n + 1),
                        i,
                        extra.len(),
                    ));
                }
            };
            i += 2;
            let nal = extra.get(i..i + len).ok_or_else(|| {
                truncated(&format!("{name} {} ({len} bytes)", n + 1), i, extra.len())
            })?;
            if nal.is_empty() {
                return Err(AvcError(format!("has an empty {name}")));
            }
            parameter_sets.push(nal);
            i += len;
        }
    }
    Ok(Some(AvcConfig {
        nal_length_size,
        parameter_sets,
    }))
}

/// Splits Annex B (start-code delimited) H.264 into NAL units (trailing zero bytes dropped).
pub fn annexb_nals(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let mut e = starts.get(k + 1).map(|n| n - 3).unwrap_or(data.len());
        while e > s && data[e - 1] == 0 {
            e -= 1;
        }
        if e > s {
            out.push(&data[s..e]);
        }
    }
    out
}

/// NAL units as length-prefixed (`size` bytes, big endian), as MP4/Matroska store them; an
/// error if one is too long for `size` bytes (or `size` is not 1, 2 or 4).
pub fn length_prefixed(nals: &[&[u8]], size: usize) -> Result<Vec<u8>, AvcError> {
    if !matches!(size, 1 | 2 | 4) {
        return Err(AvcError(format!(
            "says NAL units have {size}-byte lengths, which H.264 does not allow"
        )));
    }
    let max = if size == 4 {
        u32::MAX as usize
    } else {
        (1usize << (8 * size)) - 1
    };
    let mut out = Vec::with_capacity(nals.iter().map(|n| n.len() + size).sum());
    for n in nals {
        if n.len() > max {
            return Err(AvcError(format!(
                "has {size}-byte NAL lengths: a {}-byte NAL unit does not fit",
                n.len()
            )));
        }
        out.extend_from_slice(&(n.len() as u32).to_be_bytes()[4 - size..]);
        out.extend_from_slice(n);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real avcC (x264, High profile): one SPS, one PPS, 4-byte lengths.
    const AVCC: [u8; 33] = [
        0x01, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0x00, 0x12, 0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40,
        0x50, 0x05, 0xbb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x01, 0x00, 0x04, 0x68,
        0xeb, 0xe3, 0xcb,
    ];

    #[test]
    fn a_whole_avcc_gives_its_sps_pps_and_length_size() {
        let c = parse_avcc(&AVCC).unwrap().unwrap();
        assert_eq!(c.nal_length_size, 4);
        assert_eq!(c.parameter_sets.len(), 2);
        assert_eq!(c.parameter_sets[0][0] & 0x1f, 7, "SPS");
        assert_eq!(c.parameter_sets[1], &[0x68, 0xeb, 0xe3, 0xcb], "PPS");
    }

    #[test]
    fn every_truncation_of_an_avcc_is_an_error_never_a_panic() {
        for len in 1..AVCC.len() {
            let e = parse_avcc(&AVCC[..len]).unwrap_err();
            assert!(e.to_string().contains("is truncated"), "{len}: {e}");
        }
    }

    #[test]
    fn a_header_cut_after_its_sps_is_refused_clearly() {
        // One SPS, then the record ends where the PPS count should be (this indexed past the
        // end before).
        let e = parse_avcc(&[1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 1, 0x67]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the video's H.264 header (avcC) is truncated: the PPS count at byte 9 is past its \
             end (9 bytes)"
        );
        let e = parse_avcc(&[1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 0]).unwrap_err();
        assert!(e.to_string().contains("empty SPS"), "{e}");
    }

    #[test]
    fn a_zero_sps_count_is_refused() {
        let mut bad = AVCC;
        bad[5] = 0xe0;
        assert_eq!(
            parse_avcc(&bad).unwrap_err().to_string(),
            "the video's H.264 header (avcC) has no SPS (its count is zero)"
        );
    }

    #[test]
    fn lengths_and_counts_past_the_end_are_refused() {
        // The SPS says 0xffff bytes; 18 follow.
        let mut bad = AVCC;
        bad[6] = 0xff;
        bad[7] = 0xff;
        let e = parse_avcc(&bad).unwrap_err().to_string();
        assert!(
            e.contains("SPS 1 (65535 bytes) at byte 8 is past its end"),
            "{e}"
        );
        // 31 SPS announced, one present.
        let mut bad = AVCC;
        bad[5] = 0xff;
        let e = parse_avcc(&bad).unwrap_err().to_string();
        assert!(e.contains("is truncated"), "{e}");
        // Three PPS announced, one present.
        let mut bad = AVCC;
        bad[26] = 3;
        let e = parse_avcc(&bad).unwrap_err().to_string();
        assert!(e.contains("the length of PPS 2"), "{e}");
    }

    #[test]
    fn annex_b_or_no_extradata_is_not_an_avcc() {
        assert_eq!(parse_avcc(&[]).unwrap(), None);
        assert_eq!(parse_avcc(&[0, 0, 0, 1, 0x67, 0x64]).unwrap(), None);
    }

    #[test]
    fn a_three_byte_length_size_is_refused() {
        let mut bad = AVCC;
        bad[4] = 0xfe;
        assert!(parse_avcc(&bad).unwrap_err().to_string().contains("3-byte"));
    }

    #[test]
    fn annex_b_to_length_prefixed_keeps_every_nal() {
        let data = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4, 5, 6, 0,
        ];
        let nals = annexb_nals(&data);
        assert_eq!(nals, vec![&[0x67, 1, 2][..], &[0x68, 3], &[0x65, 4, 5, 6]]);
        let lp = length_prefixed(&nals, 2).unwrap();
        assert_eq!(lp, [0, 3, 0x67, 1, 2, 0, 2, 0x68, 3, 0, 4, 0x65, 4, 5, 6]);
        let big = vec![1u8; 256];
        assert!(length_prefixed(&[&big], 1).is_err());
        assert!(length_prefixed(&[&big], 3).is_err());
    }
}
