use super::*;

/// A picture that changes every frame: a diagonal gradient moving with `n`.
fn picture(w: u32, h: u32, n: u32) -> Vec<u8> {
    let mut v = vec![128u8; i420_len(w, h)];
    for y in 0..h {
        for x in 0..w {
            v[(y * w + x) as usize] = ((x + y + 4 * n) % 256) as u8;
        }
    }
    v
}

/// The mean luma difference, to check a decoded picture is the one sent.
fn luma_diff(a: &[u8], b: &[u8], w: u32, h: u32) -> f64 {
    let n = (w * h) as usize;
    a[..n]
        .iter()
        .zip(&b[..n])
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .sum::<f64>()
        / n as f64
}

fn round_trip(codec: VideoCodec) {
    let (w, h) = (320, 180);
    let mut enc = VideoEncoder::new(codec, w, h, 30, 800).unwrap();
    let mut dec = VideoDecoder::new(codec).unwrap();
    let mut decoded = 0;
    let mut keys = Vec::new();
    for n in 0..20 {
        let pic = picture(w, h, n);
        for f in enc.encode(&pic, n as i64 * 33, n == 12).unwrap() {
            keys.push((n, f.keyframe));
            if let Some(d) = dec.decode(&f.data).unwrap() {
                assert_eq!((d.width, d.height), (w, h));
                assert_eq!(d.i420.len(), i420_len(w, h));
                assert!(
                    luma_diff(&d.i420, &pic, w, h) < 12.0,
                    "{codec}: picture {n} differs"
                );
                decoded += 1;
            }
        }
    }
    assert!(decoded >= 18, "{codec}: decoded {decoded} of 20");
    assert_eq!(keys.first(), Some(&(0, true)), "{codec}: {keys:?}");
    assert!(
        keys.contains(&(12, true)),
        "{codec}: no keyframe on request: {keys:?}"
    );
    assert!(
        keys.contains(&(5, false)),
        "{codec}: every frame a keyframe: {keys:?}"
    );
}

#[test]
fn vp8_round_trip_keeps_the_picture_and_makes_a_keyframe_on_request() {
    round_trip(VideoCodec::Vp8);
}

#[test]
fn h264_round_trip_keeps_the_picture_and_makes_a_keyframe_on_request() {
    round_trip(VideoCodec::H264);
}

#[test]
fn a_new_bitrate_keeps_the_stream_decodable() {
    for codec in [VideoCodec::Vp8, VideoCodec::H264] {
        let mut enc = VideoEncoder::new(codec, 160, 90, 30, 500).unwrap();
        let mut dec = VideoDecoder::new(codec).unwrap();
        let mut decoded = 0;
        for n in 0..10 {
            if n == 5 {
                enc.set_bitrate(200);
            }
            for f in enc
                .encode(&picture(160, 90, n), n as i64 * 33, false)
                .unwrap()
            {
                decoded += dec.decode(&f.data).unwrap().is_some() as u32;
            }
        }
        assert!(decoded >= 9, "{codec}: {decoded}");
    }
}

#[test]
fn a_picture_of_the_wrong_size_is_refused() {
    let mut enc = VideoEncoder::new(VideoCodec::Vp8, 160, 90, 30, 500).unwrap();
    let e = enc.encode(&[0; 100], 0, false).unwrap_err().to_string();
    assert!(e.contains("VP8") && e.contains("160×90"), "{e}");
    assert!(VideoEncoder::new(VideoCodec::H264, 161, 90, 30, 500).is_err());
}

/// The dominant frequency by zero crossings of the left channel.
fn frequency(stereo: &[f32]) -> f64 {
    let left: Vec<f32> = stereo.iter().step_by(2).copied().collect();
    let crossings = left
        .windows(2)
        .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
        .count();
    crossings as f64 / 2.0 / (left.len() as f64 / RATE as f64)
}

fn tone_block(hz: f64, block: usize) -> Vec<f32> {
    (0..OPUS_FRAME)
        .flat_map(|i| {
            let n = (block * OPUS_FRAME + i) as f64;
            let v = (n * std::f64::consts::TAU * hz / RATE as f64).sin() as f32 * 0.25;
            [v, v]
        })
        .collect()
}

#[test]
fn a_tone_keeps_its_frequency_through_opus() {
    let mut enc = AudioEncoder::new(64).unwrap();
    let mut dec = AudioDecoder::new().unwrap();
    let mut out = Vec::new();
    for b in 0..50 {
        let packet = enc.encode(&tone_block(1000.0, b)).unwrap();
        let pcm = dec.decode(&packet).unwrap();
        assert_eq!(pcm.len(), 2 * OPUS_FRAME);
        out.extend(pcm);
    }
    let f = frequency(&out[out.len() / 2..]);
    assert!((f - 1000.0).abs() < 10.0, "{f} Hz");
    let rms =
        (out[out.len() / 2..].iter().map(|s| s * s).sum::<f32>() / (out.len() / 2) as f32).sqrt();
    assert!(rms > 0.1, "rms {rms}");
}

#[test]
fn a_lost_packet_is_concealed_with_a_whole_frame_of_sound() {
    let mut enc = AudioEncoder::new(64).unwrap();
    let mut dec = AudioDecoder::new().unwrap();
    assert_eq!(dec.conceal().len(), 2 * OPUS_FRAME);
    for b in 0..10 {
        dec.decode(&enc.encode(&tone_block(440.0, b)).unwrap())
            .unwrap();
    }
    let plc = dec.conceal();
    assert_eq!(plc.len(), 2 * OPUS_FRAME);
    assert!(plc.iter().any(|s| s.abs() > 0.01), "silent concealment");
    let next = dec
        .decode(&enc.encode(&tone_block(440.0, 11)).unwrap())
        .unwrap();
    assert_eq!(next.len(), 2 * OPUS_FRAME);
}

#[test]
fn opus_blocks_of_the_wrong_length_are_refused() {
    let mut enc = AudioEncoder::new(64).unwrap();
    let e = enc.encode(&[0.0; 960]).unwrap_err().to_string();
    assert!(e.contains("Opus"), "{e}");
}

/// Deterministic pseudo-random bytes.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn garbage_into_each_decoder_is_an_error_and_never_a_panic() {
    for codec in [VideoCodec::Vp8, VideoCodec::H264] {
        let mut dec = VideoDecoder::new(codec).unwrap();
        assert!(dec.decode(&[]).is_err());
        let e = dec.decode(&[0x55; 64]).unwrap_err().to_string();
        assert!(e.contains(codec.name()), "{e}");
        for seed in 0..200 {
            let mut g = noise(seed, 1 + (seed as usize * 37) % 3000);
            if seed % 2 == 0 && codec == VideoCodec::H264 {
                g.splice(0..0, [0, 0, 0, 1]);
            }
            let _ = dec.decode(&g);
        }
    }
    let mut dec = AudioDecoder::new().unwrap();
    assert!(dec.decode(&[]).is_err());
    // Code 3 claiming 63 frames of 20 ms: longer than Opus allows.
    let e = dec.decode(&[0xff, 0xff, 0, 0, 0]).unwrap_err().to_string();
    assert!(e.contains("Opus"), "{e}");
    for seed in 0..300 {
        let _ = dec.decode(&noise(seed, 1 + seed as usize % 400));
        let _ = dec.conceal();
    }
}

#[test]
fn codec_names_parse() {
    assert_eq!("vp8".parse::<VideoCodec>().unwrap(), VideoCodec::Vp8);
    assert_eq!("H264".parse::<VideoCodec>().unwrap(), VideoCodec::H264);
    assert!(
        "av1"
            .parse::<VideoCodec>()
            .unwrap_err()
            .to_string()
            .contains("vp8")
    );
}
