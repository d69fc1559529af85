//! The assistant's answer as it is written, below the log: "thinking…",
//! then its words growing, with **Stop generating** for its asker and the
//! room's moderators; gone once the answer is stored and shows in the log.
//! (A question it would not take says why to its asker, in the room's
//! notes: `conversation::state`.)

use crate::conversation::Conversation;
use crate::erased::handler;
use crate::socket::ChatSocket;
use leptos::prelude::*;

#[component]
pub(super) fn Answer(conv: Conversation, socket: ChatSocket) -> impl IntoView {
    move || {
        let answering = conv.answering().get()?;
        let stoppable =
            conv.moderator().get() || conv.me().get().as_ref() == Some(&answering.asker);
        let said = if answering.text.is_empty() {
            "thinking…".to_owned()
        } else {
            answering.text.clone()
        };
        Some(view! {
            <div class="answering" role="status" aria-label="Answer being written">
                <span class="nick">{answering.bot.to_string()}</span>
                <span class="bot">"bot"</span>
                <p class="text">{said}</p>
                {stoppable.then(|| view! {
                    <button type="button" on:click=handler(move |_| conv.stop_assistant(socket))>
                        "Stop generating"
                    </button>
                })}
            </div>
        })
    }
}
