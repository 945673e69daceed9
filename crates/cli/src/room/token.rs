//! `marquee room token`: mint a signed token for a role in a room.

use marquee_room::RoomError;
use marquee_room::protocol::Role;
use marquee_room::secret::load_or_create_secret;
use marquee_room::token::{self, Claims};
use std::path::PathBuf;

/// `marquee room token`. A host key (what the app keeps in the keychain to host a room on a
/// public server, and what creates the room there) is a host token with a long life:
/// `--role host --ttl 90d`. The token goes to stdout only; nothing logs it.
#[derive(Debug, Clone, clap::Args)]
pub struct TokenArgs {
    /// The room (1–64 of A-Z a-z 0-9 - _).
    #[arg(long)]
    pub room: String,
    /// User id (votes, gifts, bans are per user id).
    #[arg(long)]
    pub user: String,
    /// Display name (default: the user id).
    #[arg(long)]
    pub name: Option<String>,
    /// host, moderator, guest or viewer.
    #[arg(long)]
    pub role: Role,
    /// Lifetime: 90s, 15m, 12h, 7d.
    #[arg(long, default_value = "12h")]
    pub ttl: String,
    /// The server's secret file (created if missing).
    #[arg(long, default_value = "room.secret")]
    pub secret_file: PathBuf,
}

/// Mint a signed token. Returns the token string (the CLI prints it).
pub fn token(args: &TokenArgs) -> Result<String, RoomError> {
    let secret = load_or_create_secret(&args.secret_file)?;
    let ttl = token::parse_ttl(&args.ttl).map_err(RoomError::InvalidArgument)?;
    if args.user.is_empty() {
        return Err(RoomError::InvalidArgument(
            "--user must not be empty".into(),
        ));
    }
    if !marquee_room::server::valid_room_name(&args.room) {
        return Err(RoomError::InvalidArgument(format!(
            "--room {:?}: a room name is 1–64 of A-Z a-z 0-9 - _",
            args.room
        )));
    }
    let claims = Claims {
        room: args.room.clone(),
        user: args.user.clone(),
        name: args.name.clone().unwrap_or_else(|| args.user.clone()),
        role: args.role,
        exp_ms: marquee_room::now_ms().saturating_add(ttl),
    };
    Ok(token::sign(&secret, &claims))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_command_signs_for_the_secret_file() {
        let dir = std::env::temp_dir().join(format!("mq-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let secret_file = dir.join("s.secret");
        let _ = std::fs::remove_file(&secret_file);
        let args = TokenArgs {
            room: "r".into(),
            user: "alice".into(),
            name: None,
            role: Role::Host,
            ttl: "1h".into(),
            secret_file: secret_file.clone(),
        };
        let t = token(&args).unwrap();
        let secret = load_or_create_secret(&secret_file).unwrap();
        let c = token::verify(&secret, &t, "r", marquee_room::now_ms()).unwrap();
        assert_eq!((c.user.as_str(), c.role), ("alice", Role::Host));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
