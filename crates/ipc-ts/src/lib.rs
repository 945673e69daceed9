//! The TypeScript side of a declared IPC surface. A shell declares its commands (grouped by
//! feature) and its events once, as tables ([`CommandDecl`], [`EventDecl`]) whose types are
//! read from ts-rs; [`render()`] turns them into the files a page imports: a file per named
//! type, `commands.ts` (an interface per feature and wrappers over an `invoke` function) and
//! `events.ts` (the `EventMap`). Nothing here knows the transport: the desktop app fills the
//! tables with its `ipc_commands!` / `ipc_events!` macros and checks the committed files are
//! fresh.

mod decl;
mod render;

pub use decl::{ArgDecl, CommandDecl, EventDecl, IpcArg, IpcReturn, TypeDecl, TypeSet};
pub use render::{Prose, camel, pascal, render};
