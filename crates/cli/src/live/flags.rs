//! `marquee live`'s flags, and how they lay over a profile into the show's settings.

use crate::failure::Failure;
use crate::util::parse_duration;
use marquee_profile::Profile;
use marquee_show::settings::{Recording, default_recording};
use marquee_show::{ShowError, ShowSettings};
use marquee_studio::Scene;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct LiveArgs {
    /// Video source: test, camera:INDEX|ID, file:PATH.
    #[arg(long)]
    video: Option<String>,
    /// A named video source ID=SPEC[+MIC] (e.g. stage=camera:0+mic:usb, guest=test:2); repeatable.
    /// With sources, --video is not used; each source gets a full-frame scene of its name.
    /// A source's MIC is mixed into the program audio and drives --director.
    #[arg(long = "source")]
    sources: Vec<String>,
    /// A scene NAME=LAYOUT: full:SRC, pip:MAIN,INSET[,CORNER[,SIZE]], side:LEFT,RIGHT,
    /// grid:A,B,...; repeatable. Switch with `marquee scene NAME`.
    #[arg(long = "scene")]
    scenes: Vec<String>,
    /// The scene on air first (default: the first one).
    #[arg(long)]
    start_scene: Option<String>,
    /// Director mode: the camera whose microphone (ID=SPEC+MIC) is loudest goes on air by
    /// itself; a host's `marquee scene` pauses it, `marquee director on` resumes.
    #[arg(long)]
    director: bool,
    /// Director mode: the least time a camera stays on air.
    #[arg(long, value_parser = parse_duration, default_value = "3s")]
    director_hold: Duration,
    /// An overlay burnt into the picture: ID=text:TEXT[@PLACE], ID=image:PATH[@PLACE][*SCALE],
    /// ID=danmaku (PLACE: tl tc tr cl c cr bl bc br); repeatable. Toggle with
    /// `marquee overlay ID on|off`.
    #[arg(long = "overlay")]
    overlays: Vec<String>,
    /// Burn this room's danmaku and gifts into the stream (adds a danmaku overlay), e.g.
    /// http://127.0.0.1:8787/room/show.
    #[arg(long)]
    pub(super) danmaku_from: Option<String>,
    /// The token to join that room with (default: a viewer nickname).
    #[arg(long)]
    pub(super) danmaku_token: Option<String>,
    /// What that room's viewer page plays: [NAME=]URL, an HLS (.m3u8) or HTTP-FLV (.flv)
    /// http(s) URL the ingest serves (e.g. nginx-rtmp's `hls on`); repeat it for camera
    /// angles. Needs --danmaku-from with a host token; the room keeps it.
    #[arg(long = "playback", requires = "danmaku_from", value_parser = parse_playback)]
    pub(super) playback: Vec<marquee_room::protocol::PlaybackSource>,
    /// A platform's chat on the danmaku layer and in the signals beside the recording:
    /// bilibili:ROOM, bilibili-open:APPID (the open platform; its secrets from `marquee chat
    /// login bilibili-open`), twitch:CHANNEL or youtube:VIDEO (its API key from the keychain
    /// entry youtube-api-key); repeatable. Adds a danmaku overlay. A source that fails says so on
    /// the status line; the show goes on.
    #[arg(long = "chat", value_parser = parse_chat)]
    chat: Vec<marquee_show::chat::ChatSetting>,
    /// Connect a --chat platform's source to this URL instead (a local test server):
    /// PLATFORM=URL, e.g. twitch=ws://127.0.0.1:9000, or bilibili-open=URL for the open
    /// platform's HTTP API; repeatable.
    #[arg(long = "chat-endpoint", value_parser = parse_chat_endpoint)]
    chat_endpoints: Vec<(&'static str, String)>,
    /// Audio source: tone[:HZ], mic:ID|default, file:PATH, none.
    #[arg(long)]
    audio: Option<String>,
    /// Destination rtmp:// or rtmps:// URL, which may end in key:NAME (from the keychain), or
    /// srt://HOST:PORT?streamid=…&passphrase=…&latency=MS, whose streamid and passphrase may
    /// each be key:NAME. Repeatable.
    #[arg(long = "to")]
    to: Vec<String>,
    /// Record to this file (.mkv default; .mp4 is fragmented).
    #[arg(long)]
    record: Option<PathBuf>,
    /// Output size, e.g. 1280x720.
    #[arg(long)]
    size: Option<String>,
    #[arg(long)]
    fps: Option<u32>,
    /// Video bitrate in kbps (CBR).
    #[arg(long)]
    bitrate: Option<u32>,
    /// Keep the video bitrate constant: no adaptive bitrate (by default, when the first
    /// destination cannot keep up, the bitrate steps down and climbs back when it can).
    #[arg(long)]
    no_abr: bool,
    /// The lowest video bitrate adaptive bitrate may go to, kbps (default: a quarter of
    /// --bitrate, at least 300).
    #[arg(long)]
    min_bitrate: Option<u32>,
    /// Audio bitrate in kbps (AAC-LC).
    #[arg(long)]
    audio_bitrate: Option<u32>,
    /// auto (hardware if one opens, else x264), x264, or an FFmpeg encoder name.
    #[arg(long)]
    encoder: Option<String>,
    /// x264 preset.
    #[arg(long)]
    preset: Option<String>,
    /// Stop after this long (e.g. 10s, 5m). Default: until Ctrl-C.
    #[arg(long, value_parser = parse_duration)]
    pub(super) duration: Option<Duration>,
    /// Profile from the config file (flags override it).
    #[arg(long)]
    pub(super) profile: Option<String>,
    /// Write the end-of-run summary as JSON here.
    #[arg(long)]
    pub(super) summary_json: Option<PathBuf>,
    #[command(flatten)]
    pub(super) highlights: crate::clip::LiveHighlightArgs,
    #[command(flatten)]
    pub(super) guests: crate::costream::GuestArgs,
    /// Test only: the synthetic camera stops delivering at this session time...
    #[arg(long, hide = true, value_parser = parse_duration)]
    test_stall_at: Option<Duration>,
    /// ...for this long.
    #[arg(long, hide = true, value_parser = parse_duration, default_value = "3s")]
    test_stall_for: Duration,
}

fn parse_playback(arg: &str) -> Result<marquee_room::protocol::PlaybackSource, String> {
    marquee_room::playback::parse_source(arg).map_err(|e| e.to_string())
}

fn parse_chat(arg: &str) -> Result<marquee_show::chat::ChatSetting, String> {
    marquee_show::chat::ChatSetting::parse(arg).map_err(|e| e.to_string())
}

/// `PLATFORM=URL`: the source kind it stands for and the URL.
fn parse_chat_endpoint(arg: &str) -> Result<(&'static str, String), String> {
    let (p, url) = arg
        .split_once('=')
        .ok_or_else(|| format!("'{arg}': PLATFORM=URL"))?;
    let kind = marquee_show::chat::endpoint_kind(p)
        .ok_or_else(|| format!("'{p}': bilibili, bilibili-open, twitch or youtube"))?;
    Ok((kind, url.to_string()))
}

pub(super) fn failure(e: ShowError) -> Failure {
    match e {
        ShowError::Settings(m) => Failure::usage(m),
        e => Failure::runtime(e.to_string()),
    }
}

/// Flags over the profile over the built-in defaults: the flags are one more profile.
pub(super) fn settings(a: &LiveArgs, profile: &Profile) -> Result<ShowSettings, Failure> {
    let flags = Profile {
        video: a.video.clone(),
        audio: a.audio.clone(),
        to: a.to.clone(),
        record: a.record.clone(),
        size: a.size.clone(),
        fps: a.fps,
        bitrate: a.bitrate,
        adaptive_bitrate: a.no_abr.then_some(false),
        min_bitrate: a.min_bitrate,
        audio_bitrate: a.audio_bitrate,
        encoder: a.encoder.clone(),
        preset: a.preset.clone(),
        sources: a.sources.clone(),
        scenes: a
            .scenes
            .iter()
            .map(|x| Scene::parse(x).map_err(|e| Failure::usage(e.to_string())))
            .collect::<Result<_, _>>()?,
        start_scene: a.start_scene.clone(),
        overlays: a
            .overlays
            .iter()
            .map(|o| crate::overlay::parse(o))
            .collect::<Result<_, _>>()?,
        // Applied below, with their endpoints.
        chat: Vec::new(),
        twitch_client_id: None,
        youtube_client_id: None,
    };
    let mut s = ShowSettings::default();
    s.apply_profile(profile).map_err(failure)?;
    s.apply_profile(&flags).map_err(failure)?;
    if s.destinations.is_empty() && s.recording == Recording::Off {
        let path = default_recording();
        eprintln!("no --to or --record given: recording to {}", path.display());
        s.recording = Recording::Path(path);
    }
    // Sources named by flags replace the profile's; endpoints apply to either.
    if !a.chat.is_empty() {
        s.chat = a.chat.clone();
    }
    s.chat = s
        .chat
        .iter()
        .map(|c| {
            let mut c = c.clone();
            c.point_at(|kind| {
                (a.chat_endpoints.iter().rev())
                    .find(|(k, _)| *k == kind)
                    .map(|(_, url)| url.clone())
            });
            c
        })
        .collect();
    if (a.danmaku_from.is_some() || !s.chat.is_empty()) && !s.has_danmaku() {
        s.overlays.push(crate::overlay::parse("danmaku=danmaku")?);
    }
    s.director = a.director;
    s.director_hold = a.director_hold;
    s.highlights = marquee_show::HighlightSettings {
        replay_seconds: a.highlights.replay_seconds,
        replay_mib: a.highlights.replay_mib,
        clips_dir: a.highlights.clips_dir.clone(),
    };
    s.guests = a.guests.settings();
    s.test_faults = marquee_capture::camera::Faults {
        stall_at: a.test_stall_at,
        stall_for: a.test_stall_for,
    };
    Ok(s)
}
