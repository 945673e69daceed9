//! How commands and events are declared once. [`ipc_commands!`] (used in `commands/mod.rs`)
//! and [`ipc_events!`] (used in `events.rs`) turn a list of signatures into the Tauri side —
//! the `#[tauri::command]` wrappers and their invoke handler, typed emit functions — and into
//! tables ([`CommandDecl`], [`EventDecl`], from `marquee_ipc_ts`) that `bindings.rs` renders
//! as `ui/src/bindings/commands.ts` and `events.ts`.
//!
//! Types read in TypeScript as ts-rs renders them; two wire forms have no ts-rs type of their
//! own: [`Callback`] (a function in the page, a channel on the wire) and [`Bytes`] (an
//! `ArrayBuffer` in the page, not a JSON array).

pub use marquee_ipc_ts::{ArgDecl, CommandDecl, EventDecl, IpcArg, IpcReturn, TypeDecl, TypeSet};
use serde::Serialize;
use tauri::ipc::{Channel, CommandArg, CommandItem, InvokeError, InvokeResponseBody, IpcResponse};
use tauri::{AppHandle, Emitter, Runtime};
use ts_rs::{Config, TS};

/// A command argument the page passes as a function, `(message: T) => void`; on the wire a
/// Tauri channel. For progress of a long command.
pub struct Callback<T>(Channel<T>);

impl<T: IpcResponse> Callback<T> {
    /// Calls the page's function. A page that has gone away no longer listens; the command
    /// goes on regardless.
    pub fn send(&self, message: T) {
        if let Err(e) = self.0.send(message) {
            tracing::debug!("callback not delivered: {e}");
        }
    }
}

impl<T: TS + 'static> IpcArg for Callback<T> {
    const CALLBACK: bool = true;
    fn ts(cfg: &Config) -> String {
        format!("(message: {}) => void", T::name(cfg))
    }
    fn visit(set: &mut TypeSet) {
        set.add::<T>();
    }
}

impl<'de, R: Runtime, T> CommandArg<'de, R> for Callback<T> {
    fn from_command(command: CommandItem<'de, R>) -> Result<Self, InvokeError> {
        Channel::from_command(command).map(Self)
    }
}

/// Bytes as a command's result: an `ArrayBuffer` in the page, carried raw (not as a JSON
/// array of numbers).
#[derive(Debug)]
pub struct Bytes(pub Vec<u8>);

impl IpcResponse for Bytes {
    fn body(self) -> tauri::Result<InvokeResponseBody> {
        Ok(InvokeResponseBody::Raw(self.0))
    }
}

impl IpcReturn for Bytes {
    fn ts(_: &Config) -> String {
        "ArrayBuffer".into()
    }
    fn visit(_: &mut TypeSet) {}
}

/// Emits one event (the functions [`ipc_events!`] makes call this).
pub fn emit<T: Serialize + Clone>(app: &AppHandle, event: &str, payload: &T) {
    if let Err(e) = app.emit(event, payload) {
        tracing::debug!(event, "not emitted: {e}");
    }
}

/// Declares the app's commands, grouped by feature:
///
/// ```text
/// ipc_commands! {
///     clips {
///         /// Renames a clip.
///         fn clip_rename(name: String, new_name: String) -> ClipInfo;
///     }
/// }
/// ```
///
/// Each becomes a `#[tauri::command]` of that name and those argument names (the page sends
/// them camelCase) that awaits the handler `FEATURE::NAME(app: AppHandle, args…) ->
/// Result<RET, AppError>` (a module beside the invocation); `handler()` is all of them for
/// `tauri::Builder::invoke_handler`; `COMMANDS` describes them for the TypeScript generator.
/// No `-> RET` means `()`.
macro_rules! ipc_commands {
    ($(
        $feature:ident {$(
            $(#[doc = $doc:literal])*
            fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?;
        )*}
    )*) => {
        /// The `#[tauri::command]` wrappers: each takes the app handle (its handler reaches
        /// the state and emits events through it) and the declared arguments.
        mod wire {
            #[allow(unused_imports)]
            use super::*;
            $($(
                $(#[doc = $doc])*
                #[tauri::command]
                async fn $name(
                    app: tauri::AppHandle,
                    $($arg: $ty),*
                ) -> Result<$crate::ipc::declare::ret_type!($($ret)?), marquee_appcore::error::AppError> {
                    super::$feature::$name(app, $($arg),*).await
                }
            )*)*

            /// Every command, for `tauri::Builder::invoke_handler`.
            pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
                tauri::generate_handler![$($($name),*),*]
            }
        }
        pub use wire::handler;

        /// Every command, for the TypeScript generator (`bindings.rs`).
        pub const COMMANDS: &[$crate::ipc::declare::CommandDecl] = &[$($(
            $crate::ipc::declare::CommandDecl {
                feature: stringify!($feature),
                name: stringify!($name),
                doc: &[$($doc),*],
                args: &[$($crate::ipc::declare::ArgDecl {
                    name: stringify!($arg),
                    ty: $crate::ipc::declare::TypeDecl::arg::<$ty>(),
                    callback: <$ty as $crate::ipc::declare::IpcArg>::CALLBACK,
                }),*],
                ret: $crate::ipc::declare::TypeDecl::ret::<
                    $crate::ipc::declare::ret_type!($($ret)?)
                >(),
            }
        ),*),*];
    };
}
pub(crate) use ipc_commands;

/// A command's declared result, `()` when none is written.
macro_rules! ret_type {
    () => {
        ()
    };
    ($ret:ty) => {
        $ret
    };
}
pub(crate) use ret_type;

/// Declares the events the app emits:
///
/// ```text
/// ipc_events! {
///     /// Once a second while live.
///     stats: Stats;
/// }
/// ```
///
/// Each becomes a function `NAME(app: &AppHandle, payload: &TYPE)` that emits the event
/// `"NAME"`; `EVENTS` describes them for the TypeScript generator.
macro_rules! ipc_events {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident: $ty:ty;
    )*) => {
        $(
            $(#[doc = $doc])*
            pub fn $name(app: &tauri::AppHandle, payload: &$ty) {
                $crate::ipc::declare::emit(app, stringify!($name), payload);
            }
        )*

        /// Every event, for the TypeScript generator (`bindings.rs`).
        pub const EVENTS: &[$crate::ipc::declare::EventDecl] = &[$(
            $crate::ipc::declare::EventDecl {
                name: stringify!($name),
                doc: &[$($doc),*],
                payload: $crate::ipc::declare::TypeDecl::of::<$ty>(),
            }
        ),*];
    };
}
pub(crate) use ipc_events;
