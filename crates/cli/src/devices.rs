//! `marquee devices`.

use crate::failure::Failure;
use marquee_capture::{audio, nokhwa_cam};

#[derive(clap::Args)]
pub struct DevicesArgs {
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    /// Also try to open each video encoder (hardware ones and x264).
    #[arg(long)]
    encoders: bool,
}

pub fn run(a: DevicesArgs) -> Result<(), Failure> {
    let cameras = nokhwa_cam::list_cameras().map_err(|e| Failure::runtime(e.to_string()))?;
    let mics = audio::list_microphones().map_err(|e| Failure::runtime(e.to_string()))?;
    let encoders = if a.encoders {
        marquee_studio::encode::probe_encoders(1280, 720)
    } else {
        Vec::new()
    };
    if a.json {
        let enc: Vec<_> = encoders
            .iter()
            .map(|(n, r)| serde_json::json!({"name": n, "opens": r.is_ok(), "error": r.as_ref().err()}))
            .collect();
        let v = serde_json::json!({"cameras": cameras, "microphones": mics, "encoders": enc});
        println!(
            "{}",
            serde_json::to_string_pretty(&v).expect("plain data serialises")
        );
        return Ok(());
    }
    println!("Cameras:");
    if cameras.is_empty() {
        println!(
            "  none found — no camera is connected or visible to this user (use --video test for a test pattern)"
        );
    }
    for c in &cameras {
        println!("  camera:{}  {}  (id {})", c.index, c.name, c.id);
        for f in &c.formats {
            println!(
                "      {}x{} @ {} fps  {}",
                f.width, f.height, f.fps, f.format
            );
        }
    }
    println!("Microphones:");
    if mics.is_empty() {
        println!("  none found — no audio input device (use --audio tone for a test tone)");
    }
    for m in &mics {
        let rates: Vec<String> = m.sample_rates.iter().map(|r| r.to_string()).collect();
        let ch = if m.min_channels == m.max_channels {
            m.min_channels.to_string()
        } else {
            format!("{}-{}", m.min_channels, m.max_channels)
        };
        println!(
            "  mic:{}{}  {}  channels {ch}  rates {}",
            m.id,
            if m.is_default { " (default)" } else { "" },
            m.description,
            rates.join(",")
        );
    }
    if a.encoders {
        println!("Video encoders:");
        for (n, r) in &encoders {
            match r {
                Ok(()) => println!("  {n}: opens"),
                Err(e) => println!("  {n}: unavailable ({e})"),
            }
        }
    }
    Ok(())
}
