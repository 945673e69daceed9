//! Which frame of a source goes on air at each tick: the newest one captured at or before
//! the tick; the last one again while nothing new is due; the "camera lost" slate once the
//! source has been silent too long. Sans-IO: frames and tick times in, a pick out.

use marquee_capture::VideoFrame;
use std::collections::VecDeque;
use std::time::Duration;

/// What goes on air for one tick.
#[derive(Debug)]
pub enum Pick {
    /// A new frame from the source.
    New(VideoFrame),
    /// Nothing new yet: repeat the last picture.
    Repeat,
    /// The source has been silent too long (or never started): show the slate.
    Slate,
}

/// Chooses, per tick, the newest frame captured at or before the tick. Sans-IO.
#[derive(Debug)]
pub struct FrameSelector {
    pending: VecDeque<VideoFrame>,
    last_captured: Option<Duration>,
    lost_after: Duration,
    /// Frames never shown because a newer one was due (a camera faster than the output).
    pub superseded: u64,
}

impl FrameSelector {
    /// Frames a selector holds before it drops the oldest.
    const MAX_PENDING: usize = 16;

    pub fn new(lost_after: Duration) -> Self {
        Self {
            pending: VecDeque::new(),
            last_captured: None,
            lost_after,
            superseded: 0,
        }
    }

    /// A frame arrived from the source.
    pub fn offer(&mut self, f: VideoFrame) {
        if self.pending.len() >= Self::MAX_PENDING {
            self.pending.pop_front();
            self.superseded += 1;
        }
        self.pending.push_back(f);
    }

    /// The pick for the tick at session time `tick`.
    pub fn pick(&mut self, tick: Duration) -> Pick {
        let due = self.pending.iter().rposition(|f| f.captured <= tick);
        if let Some(i) = due {
            self.superseded += i as u64;
            self.pending.drain(..i);
            let f = self.pending.pop_front().expect("index is in range");
            self.last_captured = Some(f.captured);
            return Pick::New(f);
        }
        match self.last_captured {
            Some(t) if tick.saturating_sub(t) <= self.lost_after => Pick::Repeat,
            None if tick <= self.lost_after => Pick::Repeat,
            _ => Pick::Slate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use marquee_capture::PixelFormat;

    fn frame(ms: u64, seq: u64) -> VideoFrame {
        VideoFrame {
            width: 2,
            height: 2,
            format: PixelFormat::I420,
            data: vec![0; 6].into(),
            captured: Duration::from_millis(ms),
            seq,
        }
    }

    fn seq_of(p: Pick) -> Option<u64> {
        match p {
            Pick::New(f) => Some(f.seq),
            _ => None,
        }
    }

    #[test]
    fn each_tick_shows_the_newest_frame_due_and_never_a_future_one() {
        let mut s = FrameSelector::new(Duration::from_secs(1));
        for i in 0..4 {
            s.offer(frame(i * 33, i));
        }
        assert_eq!(seq_of(s.pick(Duration::from_millis(0))), Some(0));
        assert_eq!(seq_of(s.pick(Duration::from_millis(70))), Some(2));
        assert_eq!(s.superseded, 1);
        assert_eq!(seq_of(s.pick(Duration::from_millis(99))), Some(3));
    }

    #[test]
    fn a_silent_camera_repeats_then_shows_the_slate_after_one_second() {
        let mut s = FrameSelector::new(Duration::from_secs(1));
        s.offer(frame(0, 0));
        assert!(matches!(s.pick(Duration::ZERO), Pick::New(_)));
        assert!(matches!(s.pick(Duration::from_millis(500)), Pick::Repeat));
        assert!(matches!(s.pick(Duration::from_millis(1000)), Pick::Repeat));
        assert!(matches!(s.pick(Duration::from_millis(1034)), Pick::Slate));
        // It comes back by itself when frames do.
        s.offer(frame(2000, 1));
        assert!(matches!(s.pick(Duration::from_millis(2000)), Pick::New(_)));
    }

    #[test]
    fn a_source_that_never_delivers_gets_the_slate() {
        let mut s = FrameSelector::new(Duration::from_secs(1));
        assert!(matches!(s.pick(Duration::from_millis(10)), Pick::Repeat));
        assert!(matches!(s.pick(Duration::from_millis(1100)), Pick::Slate));
    }
}
