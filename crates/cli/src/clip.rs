//! `marquee clip …` (save, mark, cut, export, thumbnails, suggestions) and the highlight flags
//! of `marquee live`, over the highlights library.

use marquee_highlights::control;
use marquee_highlights::cut::{MarkLog, cut_recording, marks_path_for};
use marquee_highlights::error::{HighlightError, Result};
use marquee_highlights::library::{self, ExportOptions, Library};
use std::path::PathBuf;
use std::time::Duration;
/// Parses `90`, `90.5`, `90s`, `1:30`, `1:02:03.5`, `500ms` into a duration.
pub fn parse_time(s: &str) -> std::result::Result<Duration, String> {
    let bad = || format!("'{s}' is not a time (examples: 90, 12.5s, 1:30, 1:02:03.5, 500ms)");
    let t = s.trim();
    let secs: f64 = if let Some(ms) = t.strip_suffix("ms") {
        ms.parse::<f64>().map_err(|_| bad())? / 1000.0
    } else if t.contains(':') {
        let mut total = 0.0;
        for part in t.split(':') {
            total = total * 60.0 + part.parse::<f64>().map_err(|_| bad())?;
        }
        total
    } else {
        t.strip_suffix('s')
            .unwrap_or(t)
            .parse::<f64>()
            .map_err(|_| bad())?
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `marquee clip …`
#[derive(Debug, clap::Subcommand)]
pub enum ClipCmd {
    /// List the clips in the library (duration, size, created).
    List(ListArgs),
    /// Save the last seconds of a running `marquee live` as a clip.
    Save(SaveArgs),
    /// Drop a mark in a running `marquee live`.
    Mark(MarkArgs),
    /// Cut a clip from a recording, between two times or two marks (stream copy).
    Cut(CutArgs),
    /// Export clips as vertical 9:16 videos (re-encoded); goes on when one fails.
    Export(ExportArgs),
    /// Write a clip's thumbnail (first keyframe, JPEG) and print its path.
    Thumb(ClipNameArgs),
    /// Rename a clip.
    Rename(RenameArgs),
    /// Delete a clip.
    Delete(ClipNameArgs),
    /// Propose highlight moments of a recording (loudness spikes, chat bursts, gifts, votes).
    Suggest(SuggestArgs),
}

#[derive(Debug, clap::Args)]
pub struct DirArg {
    /// The clip library folder [default: <videos>/Marquee/clips]
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

impl DirArg {
    fn library(&self) -> Result<Library> {
        Library::open(self.dir.clone().unwrap_or_else(library::default_dir))
    }
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub dir: DirArg,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct SaveArgs {
    /// How many seconds to save (the clip starts at the keyframe at or before).
    #[arg(long, default_value = "30", value_parser = parse_time)]
    pub seconds: Duration,
    /// The control socket of the live session [default: $XDG_RUNTIME_DIR/marquee/live.sock]
    #[arg(long)]
    pub socket: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct MarkArgs {
    /// A label for the mark.
    #[arg(default_value = "")]
    pub label: String,
    #[arg(long)]
    pub socket: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct CutArgs {
    /// The local recording (its marks are read from RECORDING.marks.jsonl).
    pub recording: PathBuf,
    /// Start time (session time: 90, 1:30, 12.5s).
    #[arg(long, value_parser = parse_time, conflicts_with = "from_mark", required_unless_present = "from_mark")]
    pub from: Option<Duration>,
    /// End time.
    #[arg(long, value_parser = parse_time, conflicts_with = "to_mark", required_unless_present = "to_mark")]
    pub to: Option<Duration>,
    /// Start at mark N.
    #[arg(long)]
    pub from_mark: Option<u32>,
    /// End at mark N.
    #[arg(long)]
    pub to_mark: Option<u32>,
    /// Output file (.mp4 or .mkv) [default: a new file in the library].
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Start on the exact frame: re-encode the first partial GOP, copy the rest.
    #[arg(long)]
    pub accurate: bool,
    #[command(flatten)]
    pub dir: DirArg,
}

#[derive(Debug, clap::Args)]
pub struct SuggestArgs {
    /// The local recording (its audio loudness is measured, EBU R128 momentary).
    pub recording: PathBuf,
    /// Room signals per second as JSON lines (`{"danmaku":12,"gift_value":0,"vote":false,
    /// "lottery":false}`, line N = second N); loudness is filled in from the recording.
    #[arg(long)]
    pub signals: Option<PathBuf>,
    /// How many moments to propose.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Clips (names in the library, or paths).
    #[arg(required = true)]
    pub clips: Vec<String>,
    /// Where the vertical files go [default: the library].
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// Output size, 9:16.
    #[arg(long, default_value = "720x1280")]
    pub size: String,
    #[arg(long, default_value_t = 3000)]
    pub bitrate: u32,
    #[command(flatten)]
    pub dir: DirArg,
}

#[derive(Debug, clap::Args)]
pub struct ClipNameArgs {
    /// A clip name in the library, or a path.
    pub clip: String,
    #[command(flatten)]
    pub dir: DirArg,
}

#[derive(Debug, clap::Args)]
pub struct RenameArgs {
    pub clip: String,
    /// The new name (the extension is kept if omitted).
    pub new_name: String,
    #[command(flatten)]
    pub dir: DirArg,
}

/// Highlight flags for `marquee live` (flatten into its args).
#[derive(Debug, Clone, clap::Args)]
pub struct LiveHighlightArgs {
    /// Seconds kept in the replay buffer (0 turns highlights off).
    #[arg(long, default_value_t = 60)]
    pub replay_seconds: u32,
    /// Memory cap of the replay buffer, MiB.
    #[arg(long, default_value_t = 256)]
    pub replay_mib: u32,
    /// Where saved highlights go [default: <videos>/Marquee/clips].
    #[arg(long)]
    pub clips_dir: Option<PathBuf>,
    /// The control socket for `marquee clip save|mark` [default: $XDG_RUNTIME_DIR/marquee/live.sock].
    #[arg(long)]
    pub control: Option<PathBuf>,
}

fn fmt_hms(s: u64) -> String {
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn human_bytes(b: u64) -> String {
    if b >= 1 << 20 {
        format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)
    } else {
        format!("{:.0} KiB", b as f64 / 1024.0)
    }
}

/// Runs one `marquee clip` command, printing to stdout.
pub fn run(cmd: ClipCmd) -> Result<()> {
    match cmd {
        ClipCmd::List(a) => {
            let lib = a.dir.library()?;
            let clips = lib.list()?;
            if a.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&clips).expect("serialisable")
                );
            } else if clips.is_empty() {
                println!("no clips in {}", lib.dir().display());
            } else {
                println!(
                    "{:<48} {:>9} {:>10} {:>9}  created",
                    "name", "duration", "size", "picture"
                );
                for c in clips {
                    println!(
                        "{:<48} {:>8.1}s {:>10} {:>9}  {}",
                        c.name,
                        c.duration_s,
                        human_bytes(c.bytes),
                        format!("{}x{}", c.width, c.height),
                        marquee_highlights::save::utc_stamp(
                            std::time::UNIX_EPOCH + Duration::from_secs(c.created_unix_s)
                        )
                    );
                }
            }
            Ok(())
        }
        ClipCmd::Save(a) => {
            let socket = a.socket.unwrap_or_else(control::default_socket_path);
            let json = control::request(
                &socket,
                &format!("save {}", a.seconds.as_secs_f64()),
                Duration::from_secs(60),
            )?;
            let v: serde_json::Value = serde_json::from_str(&json)
                .map_err(|e| HighlightError::Remote(format!("bad answer: {e}")))?;
            println!(
                "saved {} ({:.1} s, {}, in {:.0} ms)",
                v["path"].as_str().unwrap_or("?"),
                v["duration_s"].as_f64().unwrap_or(0.0),
                human_bytes(v["bytes"].as_u64().unwrap_or(0)),
                v["latency_ms"].as_f64().unwrap_or(0.0)
            );
            Ok(())
        }
        ClipCmd::Mark(a) => {
            let socket = a.socket.unwrap_or_else(control::default_socket_path);
            let json = control::request(
                &socket,
                &format!("mark {}", a.label),
                Duration::from_secs(10),
            )?;
            let v: serde_json::Value = serde_json::from_str(&json)
                .map_err(|e| HighlightError::Remote(format!("bad answer: {e}")))?;
            println!(
                "mark {} at {:.3} s",
                v["id"],
                v["at_ms"].as_u64().unwrap_or(0) as f64 / 1000.0
            );
            Ok(())
        }
        ClipCmd::Cut(a) => {
            let marks = || MarkLog::open(&marks_path_for(&a.recording));
            let from = match (a.from, a.from_mark) {
                (Some(t), _) => t,
                (None, Some(id)) => marks()?.get(id)?.at(),
                _ => return Err(HighlightError::Invalid("give --from or --from-mark".into())),
            };
            let to = match (a.to, a.to_mark) {
                (Some(t), _) => t,
                (None, Some(id)) => marks()?.get(id)?.at(),
                _ => return Err(HighlightError::Invalid("give --to or --to-mark".into())),
            };
            let out = match a.out {
                Some(p) => p,
                None => {
                    let lib = a.dir.library()?;
                    let stem = a
                        .recording
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "recording".into());
                    marquee_highlights::save::unique_path(
                        lib.dir(),
                        &format!("{stem}-{:.0}s-{:.0}s", from.as_secs_f64(), to.as_secs_f64()),
                        "mp4",
                    )
                }
            };
            let r = if a.accurate {
                marquee_highlights::cut::cut_recording_accurate(&a.recording, from, to, &out)?
            } else {
                cut_recording(&a.recording, from, to, &out)?
            };
            println!(
                "cut {} ({:.3} s → {:.3} s, first frame at {:.3} s, {}, {:.0} ms)",
                r.path.display(),
                from.as_secs_f64(),
                to.as_secs_f64(),
                r.start_s,
                human_bytes(r.bytes),
                r.elapsed_ms
            );
            Ok(())
        }
        ClipCmd::Export(a) => {
            let lib = a.dir.library()?;
            let (w, h) = a
                .size
                .split_once('x')
                .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
                .filter(|(w, h)| *w >= 16 && *h >= 16 && w % 2 == 0 && h % 2 == 0)
                .ok_or_else(|| {
                    HighlightError::Invalid(format!("--size {} must be WxH, even", a.size))
                })?;
            let opts = ExportOptions {
                width: w,
                height: h,
                bitrate_kbps: a.bitrate,
                ..Default::default()
            };
            let mut clips = Vec::new();
            let mut failed = Vec::new();
            for c in &a.clips {
                match lib.resolve(c) {
                    Ok(p) => clips.push(p),
                    Err(e) => failed.push((PathBuf::from(c), e.to_string())),
                }
            }
            let out_dir = a.out_dir.unwrap_or_else(|| lib.dir().to_path_buf());
            std::fs::create_dir_all(&out_dir).map_err(|e| HighlightError::io(&out_dir, e))?;
            let n = clips.len();
            let mut report = lib.export_batch(&clips, &out_dir, &opts, |i, f| {
                eprint!("\rexporting {}/{n}: {:>3.0}%", i + 1, f * 100.0);
            });
            eprintln!();
            report.failed.extend(failed);
            for (src, out) in &report.exported {
                println!("exported {} → {}", src.display(), out.display());
            }
            for (src, why) in &report.failed {
                println!("FAILED {}: {why}", src.display());
            }
            if report.failed.is_empty() {
                Ok(())
            } else {
                Err(HighlightError::media(
                    format!(
                        "{} of {} exports failed",
                        report.failed.len(),
                        a.clips.len()
                    ),
                    "see above",
                ))
            }
        }
        ClipCmd::Thumb(a) => {
            let lib = a.dir.library()?;
            let clip = lib.resolve(&a.clip)?;
            println!("{}", lib.thumbnail(&clip)?.display());
            Ok(())
        }
        ClipCmd::Rename(a) => {
            let lib = a.dir.library()?;
            let clip = lib.resolve(&a.clip)?;
            println!("{}", lib.rename(&clip, &a.new_name)?.display());
            Ok(())
        }
        ClipCmd::Suggest(a) => {
            let sug = marquee_highlights::signals::suggest_recording(
                &a.recording,
                a.signals.as_deref(),
                a.top,
            )?;
            if a.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&sug).expect("serialisable")
                );
            } else if sug.is_empty() {
                println!("no moment stands out from its baseline");
            } else {
                for s in sug {
                    println!(
                        "{:>6.1}  {} → {}  (peak {})  {}",
                        s.score,
                        fmt_hms(s.from_s),
                        fmt_hms(s.to_s),
                        fmt_hms(s.at_s),
                        s.reason
                    );
                }
            }
            Ok(())
        }
        ClipCmd::Delete(a) => {
            let lib = a.dir.library()?;
            let clip = lib.resolve(&a.clip)?;
            lib.delete(&clip)?;
            println!("deleted {}", clip.display());
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: ClipCmd,
    }

    #[test]
    fn times_parse_in_every_form_we_document() {
        assert_eq!(parse_time("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_time("12.5s").unwrap(), Duration::from_millis(12_500));
        assert_eq!(parse_time("1:30").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_time("1:02:03.5").unwrap(),
            Duration::from_millis(3_723_500)
        );
        assert_eq!(parse_time("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_time("-1").is_err());
        assert!(parse_time("soon").is_err());
    }

    #[test]
    fn cut_takes_times_or_marks_but_needs_both_ends() {
        let c =
            Cli::try_parse_from(["x", "cut", "r.mkv", "--from", "10", "--to-mark", "2"]).unwrap();
        let ClipCmd::Cut(a) = c.cmd else { panic!() };
        assert_eq!(a.from, Some(Duration::from_secs(10)));
        assert_eq!(a.to_mark, Some(2));
        assert!(Cli::try_parse_from(["x", "cut", "r.mkv", "--from", "10"]).is_err());
        assert!(
            Cli::try_parse_from([
                "x",
                "cut",
                "r.mkv",
                "--from",
                "1",
                "--from-mark",
                "1",
                "--to",
                "2"
            ])
            .is_err()
        );
    }

    #[test]
    fn save_defaults_to_30_seconds() {
        let c = Cli::try_parse_from(["x", "save"]).unwrap();
        let ClipCmd::Save(a) = c.cmd else { panic!() };
        assert_eq!(a.seconds, Duration::from_secs(30));
    }

    #[test]
    fn clip_commands_run_on_a_recording_and_a_library() {
        use marquee_highlights::save::write_packets;
        use marquee_highlights::synth::{SynthConfig, encode_session};
        let dir = tempfile::tempdir().unwrap();
        let synth = encode_session(&SynthConfig {
            seconds: 8.0,
            ..Default::default()
        })
        .unwrap();
        let rec = dir.path().join("recording.mkv");
        write_packets(&synth.packets, Duration::ZERO, &synth.streams, &rec).unwrap();
        let lib = dir.path().join("lib");
        let l = lib.to_str().unwrap();
        let r = rec.to_str().unwrap();
        let go = |args: &[&str]| run(Cli::try_parse_from([&["x"], args].concat()).unwrap().cmd);
        go(&["cut", r, "--from", "1.5", "--to", "0:05", "--dir", l]).unwrap();
        go(&[
            "cut",
            r,
            "--from",
            "2.5",
            "--to",
            "6",
            "--accurate",
            "-o",
            &format!("{l}/acc.mp4"),
        ])
        .unwrap();
        let clips = Library::open(&lib).unwrap().list().unwrap();
        assert_eq!(clips.len(), 2, "{clips:?}");
        let acc = clips.iter().find(|c| c.name == "acc.mp4").unwrap();
        assert!((acc.duration_s - 3.5).abs() < 0.1, "{acc:?}");
        go(&["list", "--dir", l]).unwrap();
        go(&["thumb", "acc.mp4", "--dir", l]).unwrap();
        go(&["suggest", r, "--top", "3"]).unwrap();
        let e = go(&["cut", r, "--from-mark", "1", "--to-mark", "2"]).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{e}");
        assert!(go(&["delete", "nope.mp4", "--dir", l]).is_err());
        go(&["delete", "acc.mp4", "--dir", l]).unwrap();
        assert_eq!(Library::open(&lib).unwrap().list().unwrap().len(), 1);
    }
}
