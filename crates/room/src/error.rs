//! The room crate's error type.

/// Errors of the room crate.
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error("storage: {0}")]
    Storage(#[from] crate::store::StorageError),
    #[error("token: {0}")]
    Token(#[from] crate::token::TokenError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("websocket: {0}")]
    WebSocket(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("the room refused: {code}: {message}")]
    Refused { code: String, message: String },
}
