//! The host's side of scene switching: requests go to the compositor thread, which puts
//! them on air at its next tick and publishes the scene on air back.

use super::program::SwitchRequest;
use crate::error::StudioError;
use crossbeam_channel::Sender;
use marquee_capture::SessionClock;
use marquee_scene::{Scene, Transition};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Switches scenes of a running session; cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct SceneControl {
    director: Arc<AtomicBool>,
    scenes: Arc<Vec<Scene>>,
    on_air: Arc<Mutex<String>>,
    switches: Sender<SwitchRequest>,
    clock: SessionClock,
}

impl SceneControl {
    /// `on_air` and the other end of `switches` belong to the compositor thread.
    pub(crate) fn new(
        scenes: Vec<Scene>,
        on_air: Arc<Mutex<String>>,
        switches: Sender<SwitchRequest>,
        clock: SessionClock,
        director: bool,
    ) -> Self {
        Self {
            director: Arc::new(AtomicBool::new(director)),
            scenes: Arc::new(scenes),
            on_air,
            switches,
            clock,
        }
    }

    /// Puts a scene (or a source's full-frame scene) on air at the next frame. Fails at
    /// once for a name that is neither, or when requests come faster than frames. The host
    /// overrides director mode: it pauses until turned on again.
    pub fn switch(&self, target: &str, transition: Transition) -> Result<(), StudioError> {
        self.request(target, transition, false)?;
        self.director.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// Turns director mode on or off.
    pub fn set_director(&self, on: bool) {
        self.director.store(on, Ordering::Relaxed);
    }

    pub fn director(&self) -> bool {
        self.director.load(Ordering::Relaxed)
    }

    /// A switch request without the host's override (director mode asks through this).
    pub(crate) fn request(
        &self,
        target: &str,
        transition: Transition,
        by_director: bool,
    ) -> Result<(), StudioError> {
        if !self.scenes.iter().any(|s| s.name == target) {
            let names: Vec<&str> = self.scenes.iter().map(|s| s.name.as_str()).collect();
            return Err(StudioError::Settings(
                marquee_scene::SceneError::NotFound(target.into(), names.join(", ")).to_string(),
            ));
        }
        self.switches
            .try_send(SwitchRequest {
                target: target.into(),
                transition,
                requested_at: self.clock.now(),
                by_director,
            })
            .map_err(|_| {
                StudioError::Settings("switches are coming faster than frames: slow down".into())
            })
    }

    pub fn scenes(&self) -> &[Scene] {
        &self.scenes
    }

    pub fn on_air(&self) -> String {
        self.on_air.lock().expect("on-air lock").clone()
    }

    /// Session time now (what a switch request is stamped with).
    pub fn now(&self) -> Duration {
        self.clock.now()
    }
}
