//! `marquee guest join LINK`: join a co-stream as a guest without a browser.

use crate::failure::Failure;
use crate::util::parse_duration;
use clap::{Args, Subcommand};
use marquee_capture::{AudioSpec, VideoSpec};
use marquee_costream::guest::{self, EndReason, GuestError, GuestOptions, GuestState, Progress};
use marquee_costream::media::VideoCodec;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

#[derive(Subcommand)]
pub enum GuestCmd {
    /// Join a host's show from an invite link: send a camera and a microphone (or the
    /// synthetic ones), and keep the return feed.
    Join(Box<JoinArgs>),
    /// The guests of a running `marquee live --guests N`: name, slot, state, connection.
    List(HostArgs),
    /// A new invite link for a slot of a running show (default slot 1).
    Invite {
        slot: Option<u32>,
        #[command(flatten)]
        host: HostArgs,
    },
    /// Let a guest waiting in the green room (--green-room) on air.
    Admit {
        session: u64,
        #[command(flatten)]
        host: HostArgs,
    },
    /// Turn a guest's voice off (or back on with --off) in the program.
    Mute {
        session: u64,
        /// Unmute instead.
        #[arg(long)]
        off: bool,
        #[command(flatten)]
        host: HostArgs,
    },
    /// Take a guest's picture out of the program (or back with --off); their voice stays.
    Hide {
        session: u64,
        /// Show them again instead.
        #[arg(long)]
        off: bool,
        #[command(flatten)]
        host: HostArgs,
    },
    /// A guest's voice level in the program, dB (−60 to 12; 0 is as they send it).
    Volume {
        session: u64,
        #[arg(allow_hyphen_values = true)]
        db: f32,
        #[command(flatten)]
        host: HostArgs,
    },
    /// How the guests on air are laid out with the host: auto (side by side for one, a grid
    /// for more), grid, or pip (the host full frame, the guests in a row of insets).
    Layout {
        #[arg(value_parser = ["auto", "grid", "pip"])]
        layout: String,
        #[command(flatten)]
        host: HostArgs,
    },
    /// What the guests see while on air: program (the show as viewers see it) or camera
    /// (the host's own camera, full frame).
    View {
        #[arg(value_parser = ["program", "camera"])]
        view: String,
        #[command(flatten)]
        host: HostArgs,
    },
    /// Take a guest off the show (their link still works for a new join).
    Remove {
        session: u64,
        #[command(flatten)]
        host: HostArgs,
    },
    /// Revoke an invite: the guest on it is dropped at once and the link stops working.
    Revoke {
        token: String,
        #[command(flatten)]
        host: HostArgs,
    },
}

/// How the host-side commands reach the running show.
#[derive(Args)]
pub struct HostArgs {
    /// The live session's control socket [default: $XDG_RUNTIME_DIR/marquee/live.sock].
    #[arg(long)]
    socket: Option<PathBuf>,
}

/// One request to the running show; its JSON answer.
fn ask(host: &HostArgs, line: &str) -> Result<serde_json::Value, Failure> {
    let socket = host
        .socket
        .clone()
        .unwrap_or_else(marquee_highlights::control::default_socket_path);
    let answer = marquee_highlights::control::request(&socket, line, Duration::from_secs(5))
        .map_err(|e| Failure::runtime(e.to_string()))?;
    serde_json::from_str(&answer)
        .map_err(|e| Failure::runtime(format!("unexpected answer from the show: {e}")))
}

/// What the host changed about a guest, for `marquee guest list`.
fn marks(g: &serde_json::Value) -> String {
    let mut m = String::new();
    if g["muted_by_host"].as_bool() == Some(true) {
        m.push_str(" (muted)");
    }
    if g["hidden"].as_bool() == Some(true) {
        m.push_str(" (hidden)");
    }
    if let Some(v) = g["volume_db"].as_f64().filter(|v| *v != 0.0) {
        m.push_str(&format!(" volume {v:+.0} dB"));
    }
    m
}

/// What the host threw away of a guest's media (said only when there is some): media dropped
/// before the decoders (they were behind, or a picture after a lost one waited for a
/// keyframe), and pictures that did not decode.
fn discarded(q: &serde_json::Value) -> String {
    let mut m = String::new();
    for (key, what) in [("dropped", "dropped"), ("decode_errors", "undecodable")] {
        if let Some(n) = q[key].as_u64().filter(|n| *n > 0) {
            m.push_str(&format!(" {n} {what}"));
        }
    }
    m
}

fn host_cmd(cmd: GuestCmd) -> Result<(), Failure> {
    match cmd {
        GuestCmd::Join(a) => join(*a),
        GuestCmd::List(h) => {
            let v = ask(&h, "guests")?;
            let list = v.as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                println!("no guests");
            }
            for g in list {
                let q = &g["quality"];
                println!(
                    "session {:<4} guest{} {:<20} {:<8} {} rtt {} ms loss {}% {} NACK/s {} kbit/s latency ≈{} ms {} frames{} {} PLI{}",
                    g["session"],
                    g["slot"],
                    g["name"].as_str().unwrap_or(""),
                    g["state"].as_str().unwrap_or(""),
                    if g["connected"].as_bool() == Some(true) {
                        "connected"
                    } else {
                        "connecting"
                    },
                    q["rtt_ms"],
                    q["loss_pct"]
                        .as_f64()
                        .map_or("-".into(), |l| format!("{l:.1}")),
                    q["nacks_per_s"]
                        .as_f64()
                        .map_or("-".into(), |n| format!("{n:.0}")),
                    q["in_kbps"],
                    q["latency_ms"]
                        .as_u64()
                        .map_or("-".into(), |l| l.to_string()),
                    q["frames"],
                    discarded(q),
                    q["keyframe_requests"],
                    marks(&g),
                );
            }
            Ok(())
        }
        GuestCmd::Invite { slot, host } => {
            let v = ask(&host, &format!("guest invite {}", slot.unwrap_or(1)))?;
            match v["link"].as_str() {
                Some(link) => println!("guest {}: {link}", v["slot"]),
                None => println!(
                    "guest {}: invite {} (the show serves no links)",
                    v["slot"], v["token"]
                ),
            }
            Ok(())
        }
        GuestCmd::Admit { session, host } => {
            ask(&host, &format!("guest admit {session}")).map(|_| ())
        }
        GuestCmd::Mute { session, off, host } => {
            let on = if off { "off" } else { "on" };
            ask(&host, &format!("guest mute {session} {on}")).map(|_| ())
        }
        GuestCmd::Hide { session, off, host } => {
            let on = if off { "off" } else { "on" };
            ask(&host, &format!("guest hide {session} {on}")).map(|_| ())
        }
        GuestCmd::Volume { session, db, host } => {
            ask(&host, &format!("guest volume {session} {db}")).map(|_| ())
        }
        GuestCmd::Layout { layout, host } => {
            ask(&host, &format!("guest layout {layout}")).map(|_| ())
        }
        GuestCmd::View { view, host } => ask(&host, &format!("guest view {view}")).map(|_| ()),
        GuestCmd::Remove { session, host } => {
            ask(&host, &format!("guest remove {session}")).map(|_| ())
        }
        GuestCmd::Revoke { token, host } => {
            ask(&host, &format!("guest revoke {token}")).map(|_| ())
        }
    }
}

#[derive(Args)]
pub struct JoinArgs {
    /// The invite link the host gave (http(s)://HOST/join/TOKEN).
    link: String,
    /// camera:INDEX|ID, test[:N] (the synthetic camera with frame codes) or file:PATH.
    #[arg(long, default_value = "test")]
    video: String,
    /// mic:default|ID, tone[:HZ], file:PATH or none.
    #[arg(long, default_value = "tone:440")]
    audio: String,
    /// Your name as the host sees it (at most 32 characters).
    #[arg(long)]
    name: Option<String>,
    /// Leave after this long (e.g. 20s); without it, until Ctrl-C or the host ends it.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// The video codec to send: vp8 or h264.
    #[arg(long, default_value = "vp8")]
    codec: String,
    /// The size and rate of the video sent, WIDTHxHEIGHT@FPS.
    #[arg(long, default_value = "640x360@30", value_parser = parse_mode)]
    mode: (u32, u32, u32),
    /// Write the return feed's audio here (WAV, 48 kHz stereo).
    #[arg(long)]
    return_audio: Option<PathBuf>,
    /// Write the return feed's video here (Y4M).
    #[arg(long)]
    return_video: Option<PathBuf>,
    /// Also trust the CA certificates in this PEM file for an https:// link (a host's own CA).
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Reach the host through this TURN relay too (turn:HOST[:PORT][?transport=udp|tcp] or
    /// turns:HOST[:PORT]; TCP or TLS for a network that lets no UDP out). Without it, the
    /// relay the host names for its guests (if any) is tried, as a browser guest would.
    /// Needs --turn-user; the credential comes from --turn-credential key:NAME (the OS
    /// keychain) or the MARQUEE_TURN_CREDENTIAL environment variable.
    #[arg(long, value_name = "URL", requires = "turn_user")]
    turn: Option<String>,
    /// The TURN relay's user name.
    #[arg(long, value_name = "USER", requires = "turn")]
    turn_user: Option<String>,
    /// The TURN relay's credential from the OS keychain: key:NAME (`marquee key set NAME`).
    #[arg(long, value_name = "key:NAME", requires = "turn")]
    turn_credential: Option<String>,
    /// Offer only the relay's address (for a network that lets nothing else through).
    #[arg(long, requires = "turn")]
    relay_only: bool,
    /// Join as OBS's and FFmpeg's WHIP outputs do: the invite as a bearer token on the host's
    /// WHIP URL, send only (no return feed), no name.
    #[arg(long, conflicts_with_all = ["return_audio", "return_video", "name"])]
    send_only: bool,
}

/// The environment variable a TURN credential may come from (a script's secret store).
const TURN_CREDENTIAL_ENV: &str = "MARQUEE_TURN_CREDENTIAL";

fn guest_turn(a: &JoinArgs) -> Result<Option<guest::GuestTurn>, Failure> {
    let (Some(url), Some(user)) = (&a.turn, &a.turn_user) else {
        return Ok(None);
    };
    marquee_costream::ice::check_turn_url(url).map_err(Failure::usage)?;
    let credential = match &a.turn_credential {
        Some(k) => {
            let name = k.strip_prefix("key:").filter(|n| !n.is_empty()).ok_or_else(|| {
                Failure::usage(
                    "the TURN credential comes from the OS keychain: --turn-credential key:NAME",
                )
            })?;
            marquee_profile::Keychain::default()
                .get(name)
                .map_err(|e| Failure::runtime(e.to_string()))?
        }
        None => std::env::var(TURN_CREDENTIAL_ENV).map_err(|_| {
            Failure::usage(format!(
                "--turn needs its credential: --turn-credential key:NAME (the OS keychain) or {TURN_CREDENTIAL_ENV}"
            ))
        })?,
    };
    Ok(Some(guest::GuestTurn {
        url: url.clone(),
        username: user.clone(),
        credential,
        relay_only: a.relay_only,
    }))
}

fn parse_mode(s: &str) -> Result<(u32, u32, u32), String> {
    let bad = || format!("'{s}' is not a mode like 640x360@30 (even sizes, 1 to 60 fps)");
    let (size, fps) = s.split_once('@').unwrap_or((s, "30"));
    let (w, h) = size.split_once('x').ok_or_else(bad)?;
    let (w, h, fps): (u32, u32, u32) = (
        w.parse().map_err(|_| bad())?,
        h.parse().map_err(|_| bad())?,
        fps.parse().map_err(|_| bad())?,
    );
    let ok = (16..=1920).contains(&w)
        && (16..=1080).contains(&h)
        && w % 2 == 0
        && h % 2 == 0
        && (1..=60).contains(&fps);
    ok.then_some((w, h, fps)).ok_or_else(bad)
}

pub fn run(cmd: GuestCmd) -> Result<(), Failure> {
    match cmd {
        GuestCmd::Join(a) => join(*a),
        other => host_cmd(other),
    }
}

fn join(a: JoinArgs) -> Result<(), Failure> {
    let usage = |e: String| Failure::usage(e);
    let video: VideoSpec = a
        .video
        .parse()
        .map_err(|e: marquee_capture::CaptureError| usage(e.to_string()))?;
    let audio: AudioSpec = a
        .audio
        .parse()
        .map_err(|e: marquee_capture::CaptureError| usage(e.to_string()))?;
    let codec: VideoCodec = a
        .codec
        .parse()
        .map_err(|e: marquee_costream::media::MediaError| usage(e.to_string()))?;
    let (width, height, fps) = a.mode;
    let sending_audio = if audio == AudioSpec::None {
        ""
    } else {
        " and Opus audio"
    };
    let turn = guest_turn(&a)?;
    let opts = GuestOptions {
        turn,
        link: a.link,
        video,
        audio,
        name: a.name,
        duration: a.duration,
        codec,
        width,
        height,
        fps,
        return_audio: a.return_audio,
        return_video: a.return_video,
        ca_file: a.ca_file,
        send_only: a.send_only,
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())
            .map_err(|e| Failure::runtime(format!("cannot handle signals: {e}")))?;
    }
    eprintln!("joining {} …", opts.link);
    let result = guest::join(&opts, stop, |p| match p {
        Progress::Signalled { .. } => eprintln!("the host answered; connecting …"),
        Progress::Connected => eprintln!("connected: sending {codec} video{sending_audio}"),
        Progress::State(s) => {
            let mut line = s.state.describe().to_string();
            if s.state == GuestState::OnAir && s.slot > 0 {
                line = format!("on air as guest {}", s.slot);
            }
            if s.muted_by_host {
                line.push_str(" (the host muted you)");
            }
            if !s.message.is_empty() {
                line.push_str(&format!(": {}", s.message));
            }
            eprintln!("{line}");
        }
        Progress::Bitrate(kbps) => tracing::info!("video bitrate {kbps} kbps"),
        Progress::Relay {
            url,
            by_host,
            outcome,
        } => {
            let whose = if by_host {
                "the host's relay"
            } else {
                "the relay"
            };
            match outcome {
                Ok(addr) => eprintln!("{whose} {url} gave the address {addr}"),
                Err(e) => eprintln!("{whose} {url} cannot be used ({e}): joining without it"),
            }
        }
    });
    match result {
        Ok((reason, s)) => {
            let why = match reason {
                EndReason::Duration => "the duration is over",
                EndReason::Stopped => "stopped",
                EndReason::Declined => "the host declined you",
                EndReason::Removed => "removed by the host",
                EndReason::ShowEnded => "the show ended",
            };
            eprintln!(
                "left ({why}): sent {} video frames ({} left out while the network was behind) and {} audio packets ({} stale 20 ms blocks of sound not sent), received {} and {}",
                s.video_frames_sent,
                s.video_frames_left_out,
                s.audio_packets_sent,
                s.audio_blocks_stale,
                s.video_frames_received,
                s.audio_packets_received
            );
            match reason {
                EndReason::Declined | EndReason::Removed => Err(Failure::runtime(why)),
                _ => Ok(()),
            }
        }
        Err(e @ (GuestError::BadLink(_) | GuestError::BadName)) => {
            Err(Failure::usage(e.to_string()))
        }
        Err(e) => Err(Failure::runtime(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_bad_ones_say_the_form() {
        assert_eq!(parse_mode("640x360@30").unwrap(), (640, 360, 30));
        assert_eq!(parse_mode("480x270").unwrap(), (480, 270, 30));
        assert!(parse_mode("641x360@30").unwrap_err().contains("640x360@30"));
        assert!(parse_mode("640x360@0").is_err());
    }
}
