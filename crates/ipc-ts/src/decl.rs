//! The tables a shell declares its surface in, and the set of TypeScript types they reach.

use std::any::TypeId;
use std::collections::{BTreeMap, HashSet};
use ts_rs::{Config, TS, TypeVisitor};

/// A command as the page calls it.
#[derive(Debug)]
pub struct CommandDecl {
    /// Its feature: where its handler lives, and its TypeScript interface.
    pub feature: &'static str,
    /// Its name on the wire (and its handler's).
    pub name: &'static str,
    /// Its doc comment, a line each.
    pub doc: &'static [&'static str],
    pub args: &'static [ArgDecl],
    /// What it resolves with (every command can also reject).
    pub ret: TypeDecl,
}

/// A command's argument.
#[derive(Debug)]
pub struct ArgDecl {
    /// The Rust name; the wire and the page use its camelCase form.
    pub name: &'static str,
    pub ty: TypeDecl,
    /// A callback: the page passes a function, the wire carries a channel.
    pub callback: bool,
}

/// An event the shell emits to the page.
#[derive(Debug)]
pub struct EventDecl {
    /// Its name on the wire.
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

/// How a command argument reads in TypeScript. A ts-rs type reads as itself; a shell's
/// callback type implements it with `CALLBACK` set (`(message: T) => void`).
pub trait IpcArg {
    /// Whether the page passes a function (a channel on the wire).
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

/// How a command's result reads in TypeScript (`()` is `void`). A shell's raw-bytes type
/// implements it as `ArrayBuffer`.
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

/// The named TypeScript types a set of signatures uses, with everything they use in turn:
/// what the bindings folder holds a file for.
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
