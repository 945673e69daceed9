//! Q&A: questions queue, a moderator pins one.

use super::*;

#[test]
fn questions_queue_and_the_host_pins_one() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let a = h.join("alice", Role::Viewer);
    h.text(
        a,
        json!({"type":"ask","text":"What is your favourite film?"}),
    );
    let q = h.events(host).into_iter().find_map(|e| match e.body {
        EventBody::Question { question } => Some(question),
        _ => None,
    });
    let q = q.unwrap();
    h.text(a, json!({"type":"pin_question","question":q.question}));
    assert_eq!(h.errors(a), [ErrorCode::Forbidden]);
    h.text(host, json!({"type":"pin_question","question":q.question}));
    let pinned = h.events(a).into_iter().find_map(|e| match e.body {
        EventBody::QuestionPinned { question } => Some(question),
        _ => None,
    });
    assert_eq!(
        pinned.unwrap().unwrap().text,
        "What is your favourite film?"
    );
    let h = h.restart();
    assert_eq!(h.room.view().pinned.unwrap().question, q.question);
}
