//! `marquee key …` and `marquee config …`.

use crate::failure::Failure;
use marquee_profile::{Config, Keychain};
use std::io::Read;

#[derive(clap::Subcommand)]
pub enum KeyCmd {
    /// Store a stream key read from standard input (never from the command line).
    Set { name: String },
    /// List stored key names (values are never shown).
    List,
    /// Delete a stored key.
    Delete { name: String },
}

#[derive(clap::Subcommand)]
pub enum ConfigCmd {
    /// Print the config file's path.
    Path,
    /// Print the config file (it never holds stream keys).
    Show,
}

pub fn run_key(c: KeyCmd) -> Result<(), Failure> {
    let kc = Keychain::default();
    match c {
        KeyCmd::Set { name } => {
            let mut key = String::new();
            std::io::stdin()
                .take(4096)
                .read_to_string(&mut key)
                .map_err(|e| {
                    Failure::usage(format!("cannot read the key from standard input: {e}"))
                })?;
            kc.set(&name, &key)
                .map_err(|e| Failure::runtime(e.to_string()))?;
            eprintln!("stored stream key '{name}' in the OS keychain; use it as …/key:{name}");
        }
        KeyCmd::List => {
            let names = kc.list().map_err(|e| Failure::runtime(e.to_string()))?;
            if names.is_empty() {
                eprintln!("no stream keys stored (add one with `marquee key set NAME`)");
            }
            for n in names {
                println!("{n}");
            }
        }
        KeyCmd::Delete { name } => {
            kc.delete(&name)
                .map_err(|e| Failure::runtime(e.to_string()))?;
            eprintln!("deleted stream key '{name}'");
        }
    }
    Ok(())
}

pub fn run_config(c: ConfigCmd) -> Result<(), Failure> {
    let path = marquee_profile::config::default_path();
    match c {
        ConfigCmd::Path => println!("{}", path.display()),
        ConfigCmd::Show => {
            let cfg = Config::load(&path).map_err(|e| Failure::usage(e.to_string()))?;
            println!("# {}", path.display());
            print!("{}", toml::to_string_pretty(&cfg).unwrap_or_default());
        }
    }
    Ok(())
}
