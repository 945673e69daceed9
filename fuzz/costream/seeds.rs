//! Writes the seed corpora: offers as the native guest makes them (VP8 and H.264) for
//! `whip_offer`, and the host's answers to them (bare, and in a WHIP 201 response, plainly and
//! chunked) for `guest_answer`, with the guest's mids written `{v}` and `{a}`.
//!
//! `./seeds corpus` (any build of this package; the hand-written Chromium offer is committed).

use std::time::{Duration, Instant};
use str0m::bwe::Bitrate;
use str0m::change::SdpOffer;
use str0m::media::{Direction, MediaKind};
use str0m::{Candidate, Rtc, RtcConfig};

fn guest(h264: bool) -> (String, String, String) {
    let config = RtcConfig::new().clear_codecs().enable_opus(true, false);
    let config = if h264 {
        config.enable_h264(true)
    } else {
        config.enable_vp8(true)
    };
    let mut rtc = config
        .enable_bwe(Some(Bitrate::kbps(1_000)))
        .build(Instant::now());
    rtc.add_local_candidate(Candidate::host("192.168.1.20:50000".parse().unwrap(), "udp").unwrap());
    let mut api = rtc.sdp_api();
    let stream = Some("marquee-guest".to_string());
    let v = api.add_media(
        MediaKind::Video,
        Direction::SendRecv,
        stream.clone(),
        Some("video".into()),
        None,
    );
    let a = api.add_media(
        MediaKind::Audio,
        Direction::SendRecv,
        stream,
        Some("audio".into()),
        None,
    );
    let (offer, _) = api.apply().unwrap();
    (offer.to_sdp_string(), v.to_string(), a.to_string())
}

fn host_answer(offer: &str) -> String {
    let mut rtc = Rtc::builder()
        .clear_codecs()
        .enable_vp8(true)
        .enable_h264(true)
        .enable_opus(true, false)
        .set_stats_interval(Some(Duration::from_secs(1)))
        .build(Instant::now());
    rtc.add_local_candidate(Candidate::host("192.168.1.10:47000".parse().unwrap(), "udp").unwrap());
    let offer = SdpOffer::from_sdp_string(offer).unwrap();
    rtc.sdp_api().accept_offer(offer).unwrap().to_sdp_string()
}

/// The answer with the guest's mids as `{v}` and `{a}` (only where they name media).
fn templated(answer: &str, v: &str, a: &str) -> String {
    answer
        .split_inclusive("\r\n")
        .map(|l| {
            if l.starts_with("a=mid:") || l.starts_with("a=group:BUNDLE") {
                l.replace(v, "{v}").replace(a, "{a}")
            } else {
                l.to_string()
            }
        })
        .collect()
}

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or("corpus".into()));
    str0m::crypto::from_feature_flags().install_process_default();
    let offers = dir.join("whip_offer");
    let answers = dir.join("guest_answer");
    std::fs::create_dir_all(&offers).unwrap();
    std::fs::create_dir_all(&answers).unwrap();
    for (h264, name) in [(false, "vp8"), (true, "h264")] {
        let (offer, v, a) = guest(h264);
        std::fs::write(offers.join(format!("str0m_guest_{name}")), &offer).unwrap();
        let answer = templated(&host_answer(&offer), &v, &a);
        let location = "/join/AAAAAAAAAAAAAAAAAAAAAA/whip/3f2a";
        let plain = format!(
            "HTTP/1.1 201 Created\r\ncontent-type: application/sdp\r\nlocation: {location}\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        let chunked = format!(
            "HTTP/1.1 201 Created\r\nContent-Type: application/sdp\r\nLocation: http://192.168.1.10:8080{location}\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{}\r\n{:x}\r\n{}\r\n0\r\n\r\n",
            answer.len() / 2,
            &answer[..answer.len() / 2],
            answer.len() - answer.len() / 2,
            &answer[answer.len() / 2..]
        );
        std::fs::write(answers.join(format!("answer_{name}")), &answer).unwrap();
        std::fs::write(answers.join(format!("http_{name}")), plain).unwrap();
        std::fs::write(answers.join(format!("http_chunked_{name}")), chunked).unwrap();
    }
    std::fs::write(
        answers.join("http_refused"),
        "HTTP/1.1 410 Gone\r\ncontent-type: application/json\r\ncontent-length: 56\r\n\r\n{\"code\":\"invite_expired\",\"message\":\"the invite expired\"}",
    )
    .unwrap();
}
