//! A safety number between the reader and one other person in an encrypted
//! conversation (the other side of a direct message, each member of a
//! private room): digits both compare (in person, on a call) to know that no
//! device but theirs reads along. Made in the browser from the signing keys
//! the server lists for each of them.

use crate::conversation::Conversation;
use crate::erased::{Slot, handler};
use crate::people::Nick;
use leptos::prelude::*;

#[component]
pub(super) fn SafetyNumber(
    conv: Conversation,
    with: Nick,
    /// The button's and the digits' accessible name: one per person.
    label: String,
) -> impl IntoView {
    let shown = Slot::new(None::<String>);
    let open = Slot::new(false);
    let note = format!(
        "Compare these digits with {with}'s: the same on both screens means nobody else's device reads along. They change when either of you adds or removes a device."
    );
    let toggle = move |_| {
        let opening = !open.get_untracked();
        open.set(opening);
        if !opening {
            return;
        }
        #[cfg(feature = "hydrate")]
        {
            let with = with.clone();
            leptos::task::spawn_local(async move {
                let Some(me) = conv.me().get_untracked() else {
                    return;
                };
                let number =
                    crate::e2e::keys::safety_number(&conv.room(), me.as_str(), &with).await;
                shown.set(Some(number.unwrap_or_else(|e| e.to_string())));
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&with, conv);
    };
    view! {
        <button
            type="button"
            class="safety-toggle"
            aria-expanded=move || open.get().to_string()
            on:click=handler(toggle)
        >
            {label.clone()}
        </button>
        <div class="safety" hidden=move || !open.get()>
            <p class="digits" aria-label=label>
                {move || shown.get().unwrap_or_else(|| "…".to_owned())}
            </p>
            <p class="hint">{note}</p>
        </div>
    }
}
