//! The assistant: a bot that answers in a room when a message mentions it
//! (`@assistant`, the name configurable) or replies to one of its answers,
//! through any OpenAI-compatible chat-completions server.
//!
//! The answer streams to the room as it is written, as ephemeral `assist`
//! frames on the room's feed (never stored, like typing; on every server
//! through the bus), then is committed through the journal once, as an
//! ordinary message by the assistant replying to the question: history,
//! resume, search and every server see it. A failure is said the same way
//! ("assistant couldn't answer: ..."), and nothing else breaks.
//!
//! It never reads an encrypted conversation (the server cannot), and guards
//! keep it from flooding, stalling or bankrupting the chat: one answer per
//! room at a time (another question meanwhile is told so), a cooldown per
//! person and per address, a longest answer, a daily token budget for the
//! whole server, and the provider's timeouts (see [`provider`]).
//!
//! - [`provider`]: the streamed HTTP call and what compatible servers send.
//! - [`context`]: what the model is shown of the room.

pub mod context;
pub mod provider;

use crate::accounts::throttle::Throttle;
use crate::bus::Control;
use crate::hub::RoomHub;
use crate::store::{Author, Draft};
use app::messages::{BODY_MAX_CHARS, ClientId, EntryKind, MessageBody, Seq};
use app::people::Nick;
use app::protocol::{AssistStep, ServerFrame};
use app::rooms::RoomName;
use provider::{Finish, Provider, ProviderConfig, ProviderError};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The stored password hash of the account holding the assistant's name:
/// not a PHC string, so no password matches it.
pub const BOT_PASSWORD_HASH: &str = "!assistant";

/// How often the answer's new words go out while it is written: each
/// frame goes to every socket in the room, so tokens are gathered a little.
const SEND_EVERY: Duration = Duration::from_millis(80);

/// The longest an answer may take, however steadily it comes.
const LONGEST_ANSWER: Duration = Duration::from_secs(300);

/// Entries read back for the conversation the model is shown.
const CONTEXT_ENTRIES: u32 = 100;

/// The operator's settings (from flags and their environment fallbacks).
#[derive(Debug, Clone)]
pub struct AssistantConfig {
    /// Its name in rooms; `@name` calls it.
    pub name: Nick,
    pub system_prompt: String,
    pub provider: ProviderConfig,
    /// The longest answer, in tokens (also cut at a message's length).
    pub max_answer_tokens: u32,
    /// Tokens of the room's conversation the model is shown.
    pub context_tokens: u64,
    /// Tokens in and out the whole server may use per UTC day.
    pub daily_tokens: u64,
    /// One question per person, and per address, this often.
    pub cooldown: Duration,
}

/// A question: a message just committed that may call the assistant.
#[derive(Debug, Clone)]
pub struct Question {
    pub room: RoomName,
    pub seq: Seq,
    pub nick: Nick,
    pub author: Author,
    pub ip: Option<IpAddr>,
    pub text: String,
    pub reply_to: Option<Seq>,
}

/// An answer being written, so that it can be stopped.
struct Running {
    asker: Author,
    stop: watch::Sender<bool>,
}

pub struct Assistant {
    config: AssistantConfig,
    provider: Provider,
    hub: Arc<RoomHub>,
    running: Mutex<HashMap<RoomName, Running>>,
    askers: Throttle,
    /// The UTC day and the tokens spent in it.
    spent: Mutex<(i64, u64)>,
}

impl Assistant {
    pub fn new(config: AssistantConfig, hub: Arc<RoomHub>) -> Result<Arc<Self>, reqwest::Error> {
        let provider = Provider::new(config.provider.clone())?;
        let askers = Throttle::new(1, config.cooldown);
        Ok(Arc::new(Self {
            config,
            provider,
            hub,
            running: Mutex::new(HashMap::new()),
            askers,
            spent: Mutex::new((0, 0)),
        }))
    }

    /// Holds the assistant's name as an account nobody can log in to (its
    /// password hash is no hash), so that no guest or sign-up takes it. An
    /// account a person registered under that name first keeps it: then
    /// there is no assistant, and the log says why.
    pub async fn reserve_name(&self) -> Result<(), String> {
        let store = self.hub.store();
        let key = crate::hub::nick_key(&self.config.name);
        let held = store
            .account_by_key(&key)
            .await
            .map_err(|e| e.to_string())?;
        match held {
            Some(row) if row.password_hash == BOT_PASSWORD_HASH => Ok(()),
            Some(_) => Err(format!(
                "a person's account is named {}: pick another --ai-name",
                self.config.name
            )),
            None => {
                store
                    .create_account(&self.config.name, &key, BOT_PASSWORD_HASH)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(())
            }
        }
    }

    pub fn name(&self) -> &Nick {
        &self.config.name
    }

    pub fn model(&self) -> &str {
        self.provider.model()
    }

    /// The author its answers are stored under.
    pub fn author(&self) -> Author {
        Author::Bot(self.config.name.clone())
    }

    /// Whether `text` calls the assistant: `@name` as a word of its own,
    /// in any case, as a mention of a person is found.
    pub fn mentioned(&self, text: &str) -> bool {
        app::markup::mentions(text, self.config.name.as_str())
    }

    /// Whether `question` may call the assistant, before it is stored: a
    /// mention, or a reply (to what, [`Assistant::heard`] finds out), in a
    /// room the server can read. Most messages stop here, with no task.
    pub fn may_be_called(
        &self,
        room: &RoomName,
        author: &Author,
        text: &str,
        reply_to: Option<Seq>,
    ) -> bool {
        !room.is_private() && !author.is_bot() && (reply_to.is_some() || self.mentioned(text))
    }

    /// Looks at a message just committed, and answers it if it calls the
    /// assistant (in a task of its own: the caller goes on at once).
    pub fn heard(self: &Arc<Self>, question: Question) {
        let (room, author) = (&question.room, &question.author);
        if !self.may_be_called(room, author, &question.text, question.reply_to) {
            return;
        }
        let assistant = self.clone();
        tokio::spawn(async move {
            if assistant.called(&question).await {
                assistant.answer(question).await;
            }
        });
    }

    /// Stops the answer being written in `room`, if `who` asked it or is a
    /// moderator there: on this server, or on the one writing it.
    pub fn stop(&self, room: &RoomName, who: &Author, moderator: bool) {
        if !self.stop_here(room, who, moderator) {
            self.hub.bus().tell(&Control::StopAssistant {
                room: room.clone(),
                by: who.column(),
                moderator,
            });
        }
    }

    /// Hears the other servers' requests to stop an answer written here.
    pub fn follow_other_servers(self: &Arc<Self>) {
        let Some(mut told) = self.hub.bus().told() else {
            return;
        };
        let assistant = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let control = match told.recv().await {
                    Ok(control) => control,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                let Some(assistant) = assistant.upgrade() else {
                    return;
                };
                if let Control::StopAssistant {
                    room,
                    by,
                    moderator,
                } = control
                    && let Some(by) = Author::from_column(&by)
                {
                    assistant.stop_here(&room, &by, moderator);
                }
            }
        });
    }

    /// Stops the answer in `room` if this server writes it and `who` may;
    /// whether it did.
    fn stop_here(&self, room: &RoomName, who: &Author, moderator: bool) -> bool {
        let running = self.running.lock().expect("assistant lock");
        match running.get(room) {
            Some(answer) if moderator || answer.asker == *who => {
                let _ = answer.stop.send(true);
                true
            }
            _ => false,
        }
    }

    /// Whether it answers in `room`: not in an encrypted conversation, nor
    /// where the room's owner turned it off.
    pub async fn answers_in(&self, room: &RoomName) -> bool {
        if room.is_private() {
            return false;
        }
        match self.hub.store().assistant_off(room).await {
            Ok(off) => !off,
            Err(err) => {
                tracing::warn!(%err, "could not read whether the assistant is on in a room");
                false
            }
        }
    }

    /// A mention, or a reply to one of the assistant's answers, in a room
    /// it answers in.
    async fn called(&self, question: &Question) -> bool {
        if !self.answers_in(&question.room).await {
            return false;
        }
        if self.mentioned(&question.text) {
            return true;
        }
        let Some(target) = question.reply_to else {
            return false;
        };
        match self
            .hub
            .store()
            .page(&question.room, Some(target + 1), 1)
            .await
        {
            Ok(entries) => entries.last().is_some_and(|e| e.seq == target && e.bot),
            Err(err) => {
                tracing::warn!(%err, "could not read the message a reply answers");
                false
            }
        }
    }

    /// Why `question` is not answered now, if it is not.
    fn refusal(&self, question: &Question) -> Option<String> {
        let mut wait = Duration::ZERO;
        let mut keys = vec![format!("asker {}", question.author.column())];
        if let Some(ip) = question.ip {
            keys.push(format!("address {}", crate::peers::address_key(ip)));
        }
        for key in keys {
            if let Err(left) = self.askers.attempt(&key) {
                wait = wait.max(left);
            }
        }
        if !wait.is_zero() {
            return Some(format!(
                "{} answers one question at a time from each person; ask again in {} s",
                self.config.name,
                wait.as_secs().max(1)
            ));
        }
        let (day, spent) = *self.spent.lock().expect("assistant lock");
        if day == today() && spent >= self.config.daily_tokens {
            return Some(format!(
                "{} has used today's budget; it answers again tomorrow (UTC)",
                self.config.name
            ));
        }
        None
    }

    fn spend(&self, tokens: u64) {
        let mut spent = self.spent.lock().expect("assistant lock");
        let day = today();
        if spent.0 != day {
            *spent = (day, 0);
        }
        spent.1 += tokens;
    }

    async fn answer(self: Arc<Self>, question: Question) {
        let Ok(room) = self.hub.hold(&question.room).await else {
            return;
        };
        let say = |step: AssistStep| {
            room.feed.pass(&ServerFrame::Assist {
                room: question.room.clone(),
                bot: self.config.name.clone(),
                question: question.seq,
                asker: question.nick.clone(),
                step,
            });
        };
        if let Some(why) = self.refusal(&question) {
            metrics::counter!(crate::metrics::AI_FAILURES, "kind" => "refused").increment(1);
            say(AssistStep::Refused(why));
            self.hub.let_go(&room).await;
            return;
        }
        let now = crate::store::now_ms();
        let until = now + (LONGEST_ANSWER + Duration::from_secs(60)).as_millis() as i64;
        let store = self.hub.store();
        let claimed = match store.claim_assistant_turn(&question.room, until, now).await {
            Ok(claimed) => claimed,
            Err(err) => {
                tracing::error!(%err, "could not claim the room for an answer");
                false
            }
        };
        if !claimed {
            metrics::counter!(crate::metrics::AI_FAILURES, "kind" => "busy").increment(1);
            say(AssistStep::Refused(format!(
                "{} is answering another question here; ask again when it is done",
                self.config.name
            )));
            self.hub.let_go(&room).await;
            return;
        }
        let (stop, mut stopped) = watch::channel(false);
        self.running.lock().expect("assistant lock").insert(
            question.room.clone(),
            Running {
                asker: question.author.clone(),
                stop,
            },
        );
        metrics::counter!(crate::metrics::AI_REQUESTS).increment(1);
        say(AssistStep::Thinking);
        let log = self
            .hub
            .store()
            .page(&question.room, Some(question.seq + 1), CONTEXT_ENTRIES)
            .await
            .unwrap_or_default();
        let messages =
            context::prompt(&self.config.system_prompt, &log, self.config.context_tokens);
        let asked_at = Instant::now();
        let mut text = String::new();
        let mut sent_chars = 0u32;
        let mut sent_at = Instant::now();
        let mut first = true;
        let generation = self
            .provider
            .answer(&messages, self.config.max_answer_tokens, |piece| {
                if first {
                    first = false;
                    metrics::histogram!(crate::metrics::AI_FIRST_TOKEN)
                        .record(asked_at.elapsed().as_secs_f64());
                }
                let room_left = BODY_MAX_CHARS.saturating_sub(text.chars().count());
                text.extend(piece.chars().take(room_left));
                if sent_at.elapsed() >= SEND_EVERY {
                    let new: String = text.chars().skip(sent_chars as usize).collect();
                    if !new.is_empty() {
                        say(AssistStep::Text(sent_chars, new));
                        sent_chars = text.chars().count() as u32;
                        sent_at = Instant::now();
                    }
                }
            });
        let outcome = tokio::select! {
            outcome = generation => Some(outcome),
            _ = tokio::time::sleep(LONGEST_ANSWER) => Some(Err(ProviderError::Stalled)),
            _ = stopped.wait_for(|stop| *stop) => None,
        };
        self.running
            .lock()
            .expect("assistant lock")
            .remove(&question.room);
        let prompt_tokens: u64 = messages
            .iter()
            .map(|m| context::tokens_in(&m.content))
            .sum();
        let body = match outcome {
            None => {
                metrics::counter!(crate::metrics::AI_FAILURES, "kind" => "stopped").increment(1);
                self.spend(prompt_tokens + context::tokens_in(&text));
                if text.trim().is_empty() {
                    format!("({} was stopped before answering)", self.config.name)
                } else {
                    format!("{} (stopped)", text.trim_end())
                }
            }
            Some(Ok(ended)) => {
                let (tokens_in, tokens_out) = match ended.usage {
                    Some(usage) => (usage.prompt_tokens, usage.completion_tokens),
                    None => (prompt_tokens, context::tokens_in(&text)),
                };
                metrics::counter!(crate::metrics::AI_TOKENS, "way" => "in").increment(tokens_in);
                metrics::counter!(crate::metrics::AI_TOKENS, "way" => "out").increment(tokens_out);
                self.spend(tokens_in + tokens_out);
                let cut = ended.finish == Finish::Length || text.chars().count() >= BODY_MAX_CHARS;
                match (text.trim().is_empty(), cut) {
                    (true, _) => format!("{} had nothing to say", self.config.name),
                    (false, false) => text.trim().to_owned(),
                    (false, true) => format!("{}… (cut at the longest answer)", text.trim_end()),
                }
            }
            Some(Err(err)) => {
                metrics::counter!(crate::metrics::AI_FAILURES, "kind" => err.kind()).increment(1);
                self.spend(prompt_tokens);
                failure(&self.config.name, &text, &err)
            }
        };
        let body: String = body.chars().take(BODY_MAX_CHARS).collect();
        if let Ok(body) = MessageBody::parse(&body) {
            let author = self.author();
            let client_id =
                ClientId::parse(&format!("assistant-{}", question.seq)).expect("a valid client id");
            let mut draft = Draft::new(
                room.id(),
                &self.config.name,
                &author,
                EntryKind::message(client_id, body),
            );
            draft.reply_to = Some(question.seq);
            if let Err(err) = self.hub.post(&room, draft).committed().await {
                tracing::error!(%err, room = %question.room, "the assistant's answer was not stored");
            }
        }
        if let Err(err) = store.end_assistant_turn(&question.room).await {
            tracing::warn!(%err, "could not end the room's answer claim; it runs out");
        }
        self.hub.let_go(&room).await;
    }
}

/// What the room reads when the provider failed: what was written before
/// the failure, if anything, then why.
fn failure(name: &Nick, written: &str, err: &ProviderError) -> String {
    let why = format!("{name} couldn't answer: {err}");
    if written.trim().is_empty() {
        why
    } else {
        format!("{} ({why})", written.trim_end())
    }
}

fn today() -> i64 {
    crate::store::now_ms().div_euclid(86_400_000)
}
