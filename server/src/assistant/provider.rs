//! An OpenAI-compatible chat-completions endpoint, streamed: OpenAI itself,
//! or a local server that speaks its API (llama.cpp's server, Ollama,
//! vLLM). The request is `POST {base}/chat/completions` with `stream: true`;
//! the answer is server-sent events, read by `eventsource-stream`, each a
//! JSON chunk holding a piece of the text. What compatible servers really
//! send is tolerated: a first chunk with only the role, no `finish_reason`
//! (or an empty one), no usage block, `[DONE]` or just the end of the
//! stream.

use eventsource_stream::Eventsource as _;
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The longest `Retry-After` honoured before the one retry: a provider
/// asking for more gets its failure said instead.
const LONGEST_RETRY_WAIT: Duration = Duration::from_secs(30);

/// How long each stage may take.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// To open the connection.
    pub connect: Duration,
    /// From the request to the first words of the answer.
    pub first_token: Duration,
    /// Between one piece of the answer and the next.
    pub between_tokens: Duration,
}

/// Where the provider is and what to ask it for.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Up to and including `/v1` (`https://api.openai.com/v1`).
    pub base_url: String,
    pub api_key: String,
    pub model: String,
    pub timeouts: Timeouts,
}

/// One message of the conversation sent to the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Said {
    pub role: Role,
    pub content: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

/// How an answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The model was done (or the stream simply ended).
    Done,
    /// It hit the length it was given.
    Length,
}

/// What a finished stream reports: how it ended, and the tokens counted
/// (by the provider's usage block when it sends one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    pub finish: Finish,
    pub usage: Option<Usage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// Why the provider gave no (complete) answer; the text is what the room
/// is told, after "assistant couldn't answer: ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("the provider is rate limiting us{}", wait_hint(*.0))]
    RateLimited(Option<Duration>),
    /// With the `Retry-After` it asked for, if any.
    #[error("the provider failed (HTTP {0}); try again later")]
    Status(u16, Option<Duration>),
    #[error("the provider could not be reached")]
    Unreachable,
    #[error("the provider did not start answering in time")]
    NoFirstToken,
    #[error("the provider stopped sending mid-answer")]
    Stalled,
    #[error("the provider sent something unreadable")]
    Malformed,
}

fn wait_hint(wait: Option<Duration>) -> String {
    match wait {
        Some(wait) => format!("; try again in {} s", wait.as_secs().max(1)),
        None => "; try again in a minute".to_owned(),
    }
}

impl ProviderError {
    /// The kind, for `/metrics`.
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderError::RateLimited(_) => "rate_limited",
            ProviderError::Status(..) => "status",
            ProviderError::Unreachable => "unreachable",
            ProviderError::NoFirstToken => "no_first_token",
            ProviderError::Stalled => "stalled",
            ProviderError::Malformed => "malformed",
        }
    }
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    messages: &'a [Said],
    stream: bool,
    max_tokens: u32,
}

/// One streamed chunk, as loosely as compatible servers write it.
#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

pub struct Provider {
    http: reqwest::Client,
    config: ProviderConfig,
}

impl Provider {
    pub fn new(config: ProviderConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.timeouts.connect)
            .build()?;
        Ok(Self { http, config })
    }

    pub fn model(&self) -> &str {
        &self.config.model
    }

    /// Streams the answer to `messages`, at most `max_tokens` long, handing
    /// each piece of text to `piece` as it comes. A 429 or 5xx before any
    /// text is tried once more, after the `Retry-After` it asks for.
    pub async fn answer(
        &self,
        messages: &[Said],
        max_tokens: u32,
        mut piece: impl FnMut(&str),
    ) -> Result<Ended, ProviderError> {
        let response = match self.request(messages, max_tokens).await {
            Err(err @ (ProviderError::RateLimited(_) | ProviderError::Status(500..=599, _))) => {
                let wait = match err {
                    ProviderError::RateLimited(Some(wait))
                    | ProviderError::Status(_, Some(wait)) => wait,
                    _ => Duration::from_secs(1),
                };
                if wait > LONGEST_RETRY_WAIT {
                    return Err(err);
                }
                metrics::counter!(crate::metrics::AI_RETRIES).increment(1);
                tokio::time::sleep(wait).await;
                self.request(messages, max_tokens).await?
            }
            other => other?,
        };
        let timeouts = self.config.timeouts;
        let mut events = response.bytes_stream().eventsource();
        let mut usage = None;
        let mut finish = Finish::Done;
        let mut started = false;
        loop {
            let wait = if started {
                timeouts.between_tokens
            } else {
                timeouts.first_token
            };
            let event = match tokio::time::timeout(wait, events.next()).await {
                Err(_) if started => return Err(ProviderError::Stalled),
                Err(_) => return Err(ProviderError::NoFirstToken),
                Ok(None) => break,
                Ok(Some(Err(_))) if started => return Err(ProviderError::Stalled),
                Ok(Some(Err(_))) => return Err(ProviderError::Unreachable),
                Ok(Some(Ok(event))) => event,
            };
            let data = event.data.trim();
            if data == "[DONE]" {
                break;
            }
            if data.is_empty() {
                continue;
            }
            let chunk: Chunk = serde_json::from_str(data).map_err(|_| ProviderError::Malformed)?;
            if chunk.usage.is_some() {
                usage = chunk.usage;
            }
            for choice in chunk.choices {
                if let Some(text) = choice.delta.and_then(|d| d.content)
                    && !text.is_empty()
                {
                    started = true;
                    piece(&text);
                }
                if choice.finish_reason.as_deref() == Some("length") {
                    finish = Finish::Length;
                }
            }
        }
        Ok(Ended { finish, usage })
    }

    async fn request(
        &self,
        messages: &[Said],
        max_tokens: u32,
    ) -> Result<reqwest::Response, ProviderError> {
        let url = format!(
            "{}/chat/completions",
            self.config.base_url.trim_end_matches('/')
        );
        let body = Request {
            model: &self.config.model,
            messages,
            stream: true,
            max_tokens,
        };
        let sending = self
            .http
            .post(url)
            .bearer_auth(&self.config.api_key)
            .json(&body)
            .send();
        let response = tokio::time::timeout(self.config.timeouts.first_token, sending)
            .await
            .map_err(|_| ProviderError::NoFirstToken)?
            .map_err(|err| {
                tracing::warn!(%err, "the assistant's provider could not be reached");
                ProviderError::Unreachable
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        tracing::warn!(%status, "the assistant's provider refused");
        let wait = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(ProviderError::RateLimited(wait));
        }
        Err(ProviderError::Status(status.as_u16(), wait))
    }
}
