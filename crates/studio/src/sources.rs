//! Opening sources: each camera, media file or synthetic source and each audio input runs
//! on its own thread (or device callback), stamping into a bounded queue on the session
//! clock. Used by a session and by the previews before going live.

use crate::error::StudioError;
use marquee_capture::camera::{self, Faults, TestPatternCamera};
use marquee_capture::feed::{FeedCamera, Feeds};
use marquee_capture::nokhwa_cam::NokhwaCamera;
use marquee_capture::remote::{RemoteCamera, RemoteMeter};
use marquee_capture::{
    AudioBlock, AudioSpec, SessionClock, Sink, SourceHandle, VideoFrame, VideoSpec,
};
use std::sync::Arc;

/// A guest's feed, or why there is none.
fn guest_feed(
    feeds: Option<&Arc<Feeds>>,
    n: u32,
) -> Result<Arc<marquee_capture::feed::Feed>, StudioError> {
    feeds.map(|f| f.get(&format!("guest{n}"))).ok_or_else(|| {
        StudioError::Settings(format!(
            "guest:{n} is a co-stream guest: open guest slots first (marquee live --guests N)"
        ))
    })
}

/// Opens one video source on its own thread; fails when it cannot open.
#[allow(clippy::too_many_arguments)]
pub(crate) fn spawn_video(
    spec: &VideoSpec,
    feeds: Option<&Arc<Feeds>>,
    faults: Faults,
    clock: &SessionClock,
    sink: Sink<VideoFrame>,
    w: u32,
    h: u32,
    fps: u32,
) -> Result<SourceHandle, StudioError> {
    Ok(match spec {
        VideoSpec::Test | VideoSpec::TestCard(_) => {
            let card = match spec {
                VideoSpec::TestCard(n) => *n,
                _ => 0,
            };
            camera::spawn_camera(
                move || Ok(Box::new(TestPatternCamera::new(w, h, fps, faults).card(card)) as _),
                clock.clone(),
                sink,
            )?
            .0
        }
        VideoSpec::Camera(id) => {
            let id = id.clone();
            camera::spawn_camera(
                move || Ok(Box::new(NokhwaCamera::new(&id, w, h, fps)) as _),
                clock.clone(),
                sink,
            )?
            .0
        }
        VideoSpec::File(p) => marquee_capture::file::spawn_file_video(p, clock.clone(), sink)?,
        // A guest who has not joined yet is a camera still to come: lost (the slate if on
        // air) until their first picture.
        VideoSpec::Guest(n) => {
            let feed = guest_feed(feeds, *n)?;
            camera::spawn_camera_retrying(
                move || Ok(Box::new(FeedCamera::new(feed)) as _),
                clock.clone(),
                sink,
            )?
        }
        // A remote camera is lost (the slate if on air) until a sender's first picture.
        VideoSpec::Remote(url) => {
            let url = url.clone();
            let meter = Arc::new(RemoteMeter::default());
            let received = meter.clone();
            let mut h = camera::spawn_camera_retrying(
                move || Ok(Box::new(RemoteCamera::new(url, meter)) as _),
                clock.clone(),
                sink,
            )?;
            h.received = Some(received);
            h
        }
    })
}

/// Like [`spawn_video`], but a camera that cannot open starts lost and keeps retrying
/// (the compositor reports it lost once it has tried), for a source that is not on air at
/// the start: one missing camera must not keep the show off the air.
#[allow(clippy::too_many_arguments)]
pub(crate) fn spawn_video_retrying(
    spec: &VideoSpec,
    feeds: Option<&Arc<Feeds>>,
    faults: Faults,
    clock: &SessionClock,
    sink: Sink<VideoFrame>,
    w: u32,
    h: u32,
    fps: u32,
) -> Result<SourceHandle, StudioError> {
    match spec {
        VideoSpec::Camera(id) => {
            let id = id.clone();
            Ok(camera::spawn_camera_retrying(
                move || Ok(Box::new(NokhwaCamera::new(&id, w, h, fps)) as _),
                clock.clone(),
                sink,
            )?)
        }
        _ => spawn_video(spec, feeds, faults, clock, sink, w, h, fps),
    }
}

/// Opens one audio input on its own thread (or callback).
pub(crate) fn spawn_audio(
    spec: &AudioSpec,
    feeds: Option<&Arc<Feeds>>,
    clock: &SessionClock,
    sink: Sink<AudioBlock>,
) -> Result<SourceHandle, StudioError> {
    Ok(match spec {
        AudioSpec::Tone(hz) => marquee_capture::audio::spawn_tone(*hz, clock.clone(), sink),
        AudioSpec::Mic(id) => marquee_capture::audio::spawn_mic(id, clock.clone(), sink)?,
        AudioSpec::File(p) => marquee_capture::file::spawn_file_audio(p, clock.clone(), sink)?,
        AudioSpec::Guest(n) => {
            marquee_capture::feed::spawn_feed_audio(guest_feed(feeds, *n)?, clock.clone(), sink)
        }
        AudioSpec::None => {
            return Err(StudioError::Settings("no audio input to open".into()));
        }
    })
}
