//! What the model is shown: the operator's system prompt, then the room's
//! recent messages, newest kept first until the token budget is spent, each
//! as "nick: text" (the assistant's own as its turns), ending with the
//! question.

use super::provider::{Role, Said};
use app::messages::{Entry, EntryKind, apply_action};

/// Characters per token, roughly, for English text: enough to keep a
/// prompt inside the budget without a tokenizer for every model.
const CHARS_PER_TOKEN: usize = 4;

/// About how many tokens `text` is.
pub fn tokens_in(text: &str) -> u64 {
    text.chars().count().div_ceil(CHARS_PER_TOKEN) as u64
}

/// The messages to send for a question: `log` is the room's latest entries
/// (oldest first, the question among them), `budget` the tokens the
/// conversation may take besides the system prompt.
pub fn prompt(system: &str, log: &[Entry], budget: u64) -> Vec<Said> {
    let mut shown: Vec<Entry> = Vec::new();
    for entry in log {
        match &entry.kind {
            EntryKind::Message { .. } => shown.push(entry.clone()),
            _ if entry.kind.target().is_some() => {
                apply_action(&mut shown, entry);
            }
            _ => {}
        }
    }
    let mut said = Vec::new();
    let mut spent = 0;
    for entry in shown.iter().rev() {
        let EntryKind::Message { body, .. } = &entry.kind else {
            continue;
        };
        let (role, content) = if entry.bot {
            (Role::Assistant, body.as_str().to_owned())
        } else {
            (Role::User, format!("{}: {}", entry.nick, body.as_str()))
        };
        let cost = tokens_in(&content);
        if spent + cost > budget && !said.is_empty() {
            break;
        }
        spent += cost;
        said.push(Said { role, content });
    }
    said.push(Said {
        role: Role::System,
        content: system.to_owned(),
    });
    said.reverse();
    said
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::messages::{ClientId, MessageBody};
    use app::people::Nick;

    fn message(seq: u64, nick: &str, text: &str, bot: bool) -> Entry {
        Entry {
            seq,
            at: 0,
            nick: Nick::parse(nick).unwrap(),
            kind: EntryKind::message(
                ClientId::parse(&format!("c{seq}")).unwrap(),
                MessageBody::parse(text).unwrap(),
            ),
            account: !bot,
            bot,
        }
    }

    #[test]
    fn the_prompt_keeps_the_newest_messages_that_fit_with_who_said_them() {
        let log = vec![
            message(1, "sadia", &"old words ".repeat(40), false),
            message(2, "usman", "what is a monad?", false),
            message(
                3,
                "assistant",
                "A monoid in the category of endofunctors.",
                true,
            ),
            message(4, "sadia", "@assistant say it simpler", false),
        ];
        let said = prompt("Be brief.", &log, 40);
        let roles: Vec<Role> = said.iter().map(|s| s.role).collect();
        assert_eq!(
            roles,
            [Role::System, Role::User, Role::Assistant, Role::User]
        );
        assert_eq!(said[0].content, "Be brief.");
        assert_eq!(said[1].content, "usman: what is a monad?");
        assert_eq!(said[3].content, "sadia: @assistant say it simpler");
    }

    #[test]
    fn a_question_longer_than_the_budget_is_still_asked() {
        let log = vec![message(1, "sadia", &"why ".repeat(100), false)];
        let said = prompt("", &log, 10);
        assert_eq!(said.len(), 2);
    }
}
