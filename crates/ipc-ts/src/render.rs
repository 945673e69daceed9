//! Rendering the declared surface as TypeScript files.

use crate::decl::{CommandDecl, EventDecl, TypeDecl, TypeSet};
use std::collections::BTreeSet;
use ts_rs::Config;

/// What the generated files say about where they come from: comments only, so a reader of the
/// TypeScript finds the Rust.
#[derive(Debug, Clone, Copy)]
pub struct Prose {
    /// The first line of every file (with its line end).
    pub header: &'static str,
    /// The doc of a feature's interface; `{feature}` is replaced by its name.
    pub feature: &'static str,
    /// The doc of `Commands`, every feature's commands.
    pub commands: &'static str,
    /// The doc of `MakeChannel`: what a callback argument is on the wire.
    pub channel: &'static str,
    /// The doc of `EventMap`.
    pub events: &'static str,
}

/// Every file of the bindings folder, (file name, contents): a file per named type that a
/// command (argument or result), an event or one of `always` reaches (the error every
/// command rejects with, say), `index.ts` re-exporting them, `commands.ts` and `events.ts`.
pub fn render(
    commands: &[CommandDecl],
    events: &[EventDecl],
    always: &[TypeDecl],
    prose: &Prose,
) -> Vec<(String, String)> {
    // u64 crosses as a JSON number (serde_json), never a bigint.
    let mut types = TypeSet::new(Config::new().with_large_int("number"));
    for t in always {
        (t.visit)(&mut types);
    }
    for c in commands {
        for a in c.args {
            (a.ty.visit)(&mut types);
        }
        (c.ret.visit)(&mut types);
    }
    for e in events {
        (e.payload.visit)(&mut types);
    }
    let commands_ts = render_commands(commands, &types, prose);
    let events_ts = render_events(events, &types, prose);
    let mut out: Vec<(String, String)> = std::mem::take(&mut types.files).into_iter().collect();
    let index: String = out
        .iter()
        .map(|(f, _)| format!("export type * from './{}';\n", f.trim_end_matches(".ts")))
        .collect();
    out.push(("index.ts".into(), format!("{}{index}", prose.header)));
    out.push(("commands.ts".into(), commands_ts));
    out.push(("events.ts".into(), events_ts));
    out
}

fn render_commands(commands: &[CommandDecl], types: &TypeSet, prose: &Prose) -> String {
    let cfg = types.cfg();
    let ts = |t: &TypeDecl| (t.ts)(cfg);
    let mut used = Vec::new();
    let mut features: Vec<&str> = Vec::new();
    let mut interfaces = String::new();
    let mut wrappers = String::new();
    for c in commands {
        if features.last() != Some(&c.feature) {
            if !features.is_empty() {
                interfaces.push_str("}\n\n");
            }
            features.push(c.feature);
            interfaces.push_str(&format!(
                "/** {} */\nexport interface {}Commands {{\n",
                prose.feature.replace("{feature}", c.feature),
                pascal(c.feature)
            ));
        }
        let method = camel(c.name);
        let ret = ts(&c.ret);
        used.push(ret.clone());
        let params: Vec<String> = c
            .args
            .iter()
            .map(|a| {
                let t = ts(&a.ty);
                used.push(t.clone());
                format!("{}: {t}", camel(a.name))
            })
            .collect();
        interfaces.push_str(&jsdoc(c.doc, "  "));
        interfaces.push_str(&format!(
            "  {method}({}): Promise<{ret}>;\n",
            params.join(", ")
        ));
        let names: Vec<String> = c.args.iter().map(|a| camel(a.name)).collect();
        let wire: Vec<String> = c
            .args
            .iter()
            .map(|a| match (a.callback, camel(a.name)) {
                (true, n) => format!("{n}: channel({n})"),
                (false, n) => n,
            })
            .collect();
        let args = if wire.is_empty() {
            String::new()
        } else {
            format!(", {{ {} }}", wire.join(", "))
        };
        wrappers.push_str(&format!(
            "    {method}: ({}) => invoke<{ret}>('{}'{args}),\n",
            names.join(", "),
            c.name
        ));
    }
    if !features.is_empty() {
        interfaces.push_str("}\n");
    }
    let all: Vec<String> = features
        .iter()
        .map(|f| format!("{}Commands", pascal(f)))
        .collect();
    format!(
        "{header}{imports}
{interfaces}
/** {commands} */
export interface Commands extends {all} {{}}

/** Sends one command: its wire name and its arguments by their wire names (camelCase). It
 *  rejects with an `AppError`. */
export type Invoke = <T>(command: string, args?: Record<string, unknown>) => Promise<T>;

/** {channel} */
export type MakeChannel = <T>(onMessage: (message: T) => void) => unknown;

/** The commands over `invoke`. */
export function invokeCommands(invoke: Invoke, channel: MakeChannel): Commands {{
  return {{
{wrappers}  }};
}}
",
        header = prose.header,
        imports = imports(&used, types),
        commands = prose.commands,
        channel = prose.channel,
        all = all.join(", ")
    )
}

fn render_events(events: &[EventDecl], types: &TypeSet, prose: &Prose) -> String {
    let mut used = Vec::new();
    let mut map = String::new();
    for e in events {
        let t = (e.payload.ts)(types.cfg());
        map.push_str(&jsdoc(e.doc, "  "));
        map.push_str(&format!("  {}: {t};\n", e.name));
        used.push(t);
    }
    let names: Vec<String> = events.iter().map(|e| format!("'{}'", e.name)).collect();
    format!(
        "{header}{imports}
/** {events} */
export interface EventMap {{
{map}}}

/** Every event name. */
export const EVENT_NAMES = [{names}] as const satisfies readonly (keyof EventMap)[];
",
        header = prose.header,
        imports = imports(&used, types),
        events = prose.events,
        names = names.join(", ")
    )
}

/// `import type` lines for the named types that occur in `signatures`.
fn imports(signatures: &[String], types: &TypeSet) -> String {
    let words: BTreeSet<&str> = signatures
        .iter()
        .flat_map(|s| s.split(|c: char| !(c.is_alphanumeric() || c == '_')))
        .collect();
    types
        .files
        .keys()
        .map(|f| f.trim_end_matches(".ts"))
        .filter(|t| words.contains(t))
        .map(|t| format!("import type {{ {t} }} from \"./{t}\";\n"))
        .collect()
}

fn jsdoc(doc: &[&str], indent: &str) -> String {
    let lines: Vec<&str> = doc
        .iter()
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    match lines.as_slice() {
        [] => String::new(),
        [one] => format!("{indent}/** {one} */\n"),
        many => {
            let body: String = many
                .iter()
                .map(|l| format!("{indent} * {l}\n").replace(" * \n", " *\n"))
                .collect();
            format!("{indent}/**\n{body}{indent} */\n")
        }
    }
}

/// `clip_rename` → `clipRename` (the wire's rule for argument names, and the page's for
/// methods).
pub fn camel(snake: &str) -> String {
    let mut out = String::new();
    for (i, part) in snake.split('_').enumerate() {
        let mut cs = part.chars();
        match cs.next() {
            Some(c) if i > 0 => out.extend(c.to_uppercase().chain(cs)),
            Some(c) => out.extend(std::iter::once(c).chain(cs)),
            None => {}
        }
    }
    out
}

/// `clips` → `Clips`.
pub fn pascal(snake: &str) -> String {
    let c = camel(snake);
    let mut cs = c.chars();
    cs.next()
        .map(|f| f.to_uppercase().chain(cs).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decl::ArgDecl;
    use ts_rs::TS;

    /// A type as a shell declares one.
    #[derive(TS)]
    #[allow(dead_code)]
    struct Clip {
        name: String,
        bytes: u64,
    }

    const PROSE: Prose = Prose {
        header: "// generated\n",
        feature: "The `{feature}` commands.",
        commands: "Every command.",
        channel: "A channel.",
        events: "Every event.",
    };

    const COMMANDS: &[CommandDecl] = &[
        CommandDecl {
            feature: "clips",
            name: "clip_rename",
            doc: &[" Renames a clip.", "", " Never over another."],
            args: &[
                ArgDecl {
                    name: "name",
                    ty: TypeDecl::arg::<String>(),
                    callback: false,
                },
                ArgDecl {
                    name: "new_name",
                    ty: TypeDecl::arg::<String>(),
                    callback: false,
                },
            ],
            ret: TypeDecl::ret::<Clip>(),
        },
        CommandDecl {
            feature: "clips",
            name: "clip_delete",
            doc: &[" Deletes a clip."],
            args: &[ArgDecl {
                name: "name",
                ty: TypeDecl::arg::<String>(),
                callback: false,
            }],
            ret: TypeDecl::ret::<()>(),
        },
    ];

    const EVENTS: &[EventDecl] = &[EventDecl {
        name: "clip_saved",
        doc: &[" A clip was saved."],
        payload: TypeDecl::of::<Clip>(),
    }];

    fn file<'a>(files: &'a [(String, String)], name: &str) -> &'a str {
        &files.iter().find(|(n, _)| n == name).unwrap().1
    }

    #[test]
    fn every_reached_type_gets_a_file_and_the_commands_their_interface_and_wrappers() {
        let files = render(COMMANDS, EVENTS, &[], &PROSE);
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Clip.ts", "index.ts", "commands.ts", "events.ts"]);
        assert!(
            file(&files, "Clip.ts").contains("bytes: number"),
            "u64 is a number"
        );
        assert_eq!(
            file(&files, "index.ts"),
            "// generated\nexport type * from './Clip';\n"
        );
        let commands = file(&files, "commands.ts");
        assert!(commands.starts_with("// generated\nimport type { Clip } from \"./Clip\";\n"));
        assert!(commands.contains(
            "/** The `clips` commands. */\nexport interface ClipsCommands {\n  /**\n   * Renames a clip.\n   *\n   * Never over another.\n   */\n  clipRename(name: string, newName: string): Promise<Clip>;\n  /** Deletes a clip. */\n  clipDelete(name: string): Promise<void>;\n}\n"
        ));
        assert!(commands.contains(
            "    clipRename: (name, newName) => invoke<Clip>('clip_rename', { name, newName }),\n"
        ));
        assert!(commands.contains("export interface Commands extends ClipsCommands {}"));
        let events = file(&files, "events.ts");
        assert!(events.contains("  /** A clip was saved. */\n  clip_saved: Clip;\n"));
        assert!(events.contains("export const EVENT_NAMES = ['clip_saved'] as const"));
    }

    #[test]
    fn case_conversion_follows_the_wire() {
        assert_eq!(camel("suggestion_keep"), "suggestionKeep");
        assert_eq!(camel("from_s"), "fromS");
        assert_eq!(camel("stats"), "stats");
        assert_eq!(pascal("clips"), "Clips");
    }
}
