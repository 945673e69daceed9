//! Q&A: viewers ask (through the same gate as danmaku), a moderator pins one question on screen
//! or unpins it.

use super::base::{Cx, Sender, clean_text};
use super::moderation::Rules;
use super::speech::{may_speak, screen};
use crate::protocol::{ErrorCode, EventBody, QuestionInfo};
use std::collections::VecDeque;

const MAX_QUESTIONS_KEPT: usize = 200;
const MAX_QUESTION_CHARS: usize = 200;

/// `ask`.
#[derive(Debug)]
pub(super) struct Ask {
    pub(super) text: String,
}

/// `pin_question`: `None` unpins.
#[derive(Debug)]
pub(super) struct Pin {
    pub(super) question: Option<u64>,
}

/// The recent questions and the pinned one.
#[derive(Debug, Default)]
pub(super) struct Questions {
    list: VecDeque<QuestionInfo>,
    pinned: Option<u64>,
}

impl Questions {
    pub(super) fn restore(list: Vec<QuestionInfo>, pinned: Option<u64>) -> Self {
        Questions {
            list: list.into(),
            pinned,
        }
    }

    pub(super) fn records(&self) -> Vec<QuestionInfo> {
        self.list.iter().cloned().collect()
    }

    pub(super) fn pinned_id(&self) -> Option<u64> {
        self.pinned
    }

    /// The pinned question (for a joiner's view).
    pub(super) fn pinned(&self) -> Option<QuestionInfo> {
        self.pinned.and_then(|id| self.find(id))
    }

    fn find(&self, id: u64) -> Option<QuestionInfo> {
        self.list.iter().find(|q| q.question == id).cloned()
    }

    pub(super) fn ask(&mut self, cx: &mut Cx, rules: &Rules, from: &Sender, msg: Ask) {
        let conn = from.conn;
        let text = clean_text(&msg.text);
        let n = text.chars().count();
        if n == 0 || n > MAX_QUESTION_CHARS {
            cx.refuse(
                conn,
                ErrorCode::Invalid,
                format!("a question is 1 to {MAX_QUESTION_CHARS} characters"),
            );
            return;
        }
        if !may_speak(cx, rules, conn, &from.user) {
            return;
        }
        let Some((text, _)) = screen(cx, rules, conn, text) else {
            return;
        };
        let q = QuestionInfo {
            question: cx.next_id(),
            user: from.user.clone(),
            text,
        };
        self.list.push_back(q.clone());
        while self.list.len() > MAX_QUESTIONS_KEPT {
            self.list.pop_front();
        }
        cx.state_changed();
        cx.emit(EventBody::Question { question: q });
    }

    pub(super) fn pin(&mut self, cx: &mut Cx, from: &Sender, msg: Pin) {
        let info = match msg.question {
            None => None,
            Some(id) => match self.find(id) {
                Some(q) => Some(q),
                None => {
                    cx.error(from.conn, ErrorCode::NotFound, format!("no question {id}"));
                    return;
                }
            },
        };
        self.pinned = msg.question;
        let target = msg.question.map_or_else(String::new, |q| q.to_string());
        let action = if msg.question.is_some() {
            "pin_question"
        } else {
            "unpin_question"
        };
        cx.log(&from.user, action, &target, String::new());
        cx.state_changed();
        cx.emit(EventBody::QuestionPinned { question: info });
    }
}
