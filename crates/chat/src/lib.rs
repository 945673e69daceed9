//! Platform chat for Marquee: bilibili danmaku, Twitch chat and YouTube Live chat as one
//! stream of [`ChatEvent`]s — messages with badges, colours and emotes as text, gifts, super
//! chats, memberships, cheers, subs, moderation and each source's connection state.
//!
//! Each platform is a sans-IO protocol core behind [`ChatSource`] (bytes and a time in;
//! events, bytes to send and the next wake-up out): [`bilibili::Bilibili`],
//! [`twitch::Twitch`], [`youtube::Youtube`], and [`bilibili::open::BilibiliOpen`] (bilibili's
//! live open platform with the streamer's 身份码: its signed HTTP API, then the long
//! connection). [`spawn`] runs one on tokio with reconnects (jittered exponential backoff)
//! and a bounded event queue that counts what it drops.
//! Every endpoint is configurable, so tests point the adapters at local servers.

pub mod bilibili;
pub mod driver;
pub mod event;
pub mod grpc;
mod grpc_io;
mod http;
pub mod moderation;
pub mod oauth;
pub mod proto;
pub mod queue;
pub mod source;
mod tls;
pub mod twitch;
pub mod youtube;

pub use driver::{ChatHandle, DriverConfig, spawn};
pub use event::{ChatEvent, Emote, EventBody, Interaction, Money, Platform, SourceState, User};
pub use queue::QueueStats;
pub use source::{ChatSource, GrpcCall, HttpRequest, Input, Output, Transport};
