//! How commands and events are declared once. [`ipc_commands!`] (used in `commands/mod.rs`)
//! and [`ipc_events!`] (used in `events.rs`) turn a list of signatures into the Tauri side —
//! the `#[tauri::command]` wrappers and their invoke handler, typed emit functions — and into
//! tables ([`CommandDecl`], [`EventDecl`]) that `bindings.rs` renders as
//! `ui/src/bindings/commands.ts` and `events.ts`.
//!
//! Types read in TypeScript as ts-rs renders them; two wire forms have no ts-rs type of their
//! own: [`Callback`] (a function in the page, a channel on the wire) and [`Bytes`] (an
//! `ArrayBuffer` in the page, not a JSON array).

use serde::Serialize;
use std::any::TypeId;
use std::collections::{BTreeMap, HashSet};
use tauri::ipc::{Channel, CommandArg, CommandItem, InvokeError, InvokeResponseBody, IpcResponse};
use tauri::{AppHandle, Emitter, Runtime};
use ts_rs::{Config, TS, TypeVisitor};

/// A command as the page calls it.
#[derive(Debug)]
pub struct CommandDecl {
    /// Its feature: the handler's module under `commands/`, and its TypeScript interface.
    pub feature: &'static str,
    /// Its name on the wire (and its handler's).
    pub name: &'static str,
    /// Its doc comment, a line each.
    pub doc: &'static [&'static str],
    pub args: &'static [ArgDecl],
    /// What it resolves with: the `Ok` of its `Result<_, AppError>` (every command can fail).
    pub ret: TypeDecl,
}

/// A command's argument.
#[derive(Debug)]
pub struct ArgDecl {
    /// The Rust name; the wire and the page use its camelCase form (Tauri's default).
    pub name: &'static str,
    pub ty: TypeDecl,
    /// A [`Callback`]: the page passes a function, the wire carries a channel.
    pub callback: bool,
}

/// An event the app emits to the page.
#[derive(Debug)]
pub struct EventDecl {
    /// Its name on the wire (and of its emit function in `events.rs`).
    pub name: &'static str,
    pub doc: &'static [&'static str],
    pub payload: TypeDecl,
}

/// A Rust type's TypeScript side, read from ts-rs when the bindings are rendered.
#[derive(Debug, Clone, Copy)]
pub struct TypeDecl {
    /// The type as written in a signature (`Stats`, `Array<string>`, `number | null`).
    pub ts: fn(&Config) -> String,
    /// Visits the named types it uses, so they are exported too.
    pub visit: fn(&mut TypeSet),
}

impl TypeDecl {
    pub const fn of<T: TS + 'static>() -> Self {
        Self {
            ts: T::name,
            visit: TypeSet::add::<T>,
        }
    }

    pub const fn arg<T: IpcArg>() -> Self {
        Self {
            ts: T::ts,
            visit: T::visit,
        }
    }

    pub const fn ret<T: IpcReturn>() -> Self {
        Self {
            ts: T::ts,
            visit: T::visit,
        }
    }
}

/// How a command argument reads in TypeScript.
pub trait IpcArg {
    /// Whether it is a [`Callback`].
    const CALLBACK: bool = false;
    fn ts(cfg: &Config) -> String;
    fn visit(set: &mut TypeSet);
}

impl<T: TS + 'static> IpcArg for T {
    fn ts(cfg: &Config) -> String {
        T::name(cfg)
    }
    fn visit(set: &mut TypeSet) {
        set.add::<T>();
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

/// How a command's result reads in TypeScript (`()` is `void`).
pub trait IpcReturn {
    fn ts(cfg: &Config) -> String;
    fn visit(set: &mut TypeSet);
}

impl<T: TS + 'static> IpcReturn for T {
    fn ts(cfg: &Config) -> String {
        if TypeId::of::<T>() == TypeId::of::<()>() {
            "void".into()
        } else {
            T::name(cfg)
        }
    }
    fn visit(set: &mut TypeSet) {
        set.add::<T>();
    }
}

impl IpcReturn for Bytes {
    fn ts(_: &Config) -> String {
        "ArrayBuffer".into()
    }
    fn visit(_: &mut TypeSet) {}
}

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

/// Emits one event (the functions [`ipc_events!`] makes call this).
pub fn emit<T: Serialize + Clone>(app: &AppHandle, event: &str, payload: &T) {
    if let Err(e) = app.emit(event, payload) {
        tracing::debug!(event, "not emitted: {e}");
    }
}

/// The named TypeScript types a set of signatures uses, with everything they use in turn:
/// what `ui/src/bindings/` holds a file for.
pub struct TypeSet {
    cfg: Config,
    seen: HashSet<TypeId>,
    /// File name (`Stats.ts`) → its contents, by name.
    pub files: BTreeMap<String, String>,
}

impl TypeSet {
    pub fn new(cfg: Config) -> Self {
        Self {
            cfg,
            seen: HashSet::new(),
            files: BTreeMap::new(),
        }
    }

    pub fn cfg(&self) -> &Config {
        &self.cfg
    }

    /// Adds `T` (when it is a named type) and every type it refers to.
    pub fn add<T: TS + 'static + ?Sized>(&mut self) {
        TypeVisitor::visit::<T>(self);
    }
}

impl TypeVisitor for TypeSet {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        if !self.seen.insert(TypeId::of::<T>()) {
            return;
        }
        // Named types have a file; wrappers (`Vec`, `Option`…) and primitives do not, but
        // what they hold may.
        if T::output_path().is_some() {
            let text = T::export_to_string(&self.cfg).expect("bindings render");
            self.files
                .insert(format!("{}.ts", T::ident(&self.cfg)), text);
        }
        T::visit_dependencies(self);
        T::visit_generics(self);
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
                ) -> Result<$crate::ipc::declare::ret_type!($($ret)?), $crate::error::AppError> {
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
