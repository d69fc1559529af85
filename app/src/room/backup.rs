//! Key backup, from an encrypted conversation: a recovery passphrase turns
//! it on (this device's keys go into the backup, sealed with it) or
//! restores from it (a new device reads the history with no other device
//! of this person's online). The work is `crate::e2e::backup`.

use crate::conversation::Conversation;
use crate::erased::{Slot, handler};
use leptos::prelude::*;

/// The shortest recovery passphrase taken: the backup is only as strong as
/// it, against a server trying guesses (PBKDF2 slows each one down).
pub const PASSPHRASE_MIN_CHARS: usize = 12;

#[component]
pub(super) fn KeyBackup(conv: Conversation) -> impl IntoView {
    let open = Slot::new(false);
    let passphrase = Slot::new(String::new());
    let said = Slot::new(String::new());
    let busy = Slot::new(false);
    let act = move |restore: bool| {
        let typed = passphrase.get_untracked();
        if typed.chars().count() < PASSPHRASE_MIN_CHARS {
            return said.set(format!(
                "A recovery passphrase has at least {PASSPHRASE_MIN_CHARS} characters."
            ));
        }
        let Some(me) = conv.me().get_untracked() else {
            return said.set("Join the conversation first.".into());
        };
        busy.set(true);
        said.set(
            if restore {
                "Restoring…"
            } else {
                "Backing up…"
            }
            .into(),
        );
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            use crate::e2e::backup;
            let outcome = if restore {
                backup::restore(me.as_str(), &typed).await
            } else {
                backup::turn_on(me.as_str(), &typed).await
            };
            let done = outcome.is_ok();
            said.set(match (outcome, restore) {
                (Ok(n), true) => format!("Restored {} from the backup.", keys(n)),
                (Ok(n), false) => format!("Key backup is on: {} backed up.", keys(n)),
                (Err(reason), _) => format!("That did not work: {reason}."),
            });
            if done {
                passphrase.set(String::new());
            }
            busy.set(false);
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = (me, typed);
    };
    view! {
        <button
            type="button"
            class="backup-toggle"
            aria-expanded=move || open.get().to_string()
            on:click=handler(move |_| open.set(!open.get_untracked()))
        >
            "Key backup"
        </button>
        <div class="key-backup" hidden=move || !open.get()>
            <input
                type="password"
                aria-label="Recovery passphrase"
                autocomplete="new-password"
                prop:value=move || passphrase.get()
                on:input=handler(move |ev| passphrase.set(event_target_value(&ev)))
            />
            <button
                type="button"
                prop:disabled=move || busy.get()
                on:click=handler(move |_| act(false))
            >
                "Turn on key backup"
            </button>
            <button
                type="button"
                prop:disabled=move || busy.get()
                on:click=handler(move |_| act(true))
            >
                "Restore from key backup"
            </button>
            <p role="status">{move || said.get()}</p>
            <p class="hint">
                "The passphrase never leaves this browser. Without it, nobody (not even the server) can open the backup; forget it and the backup is lost."
            </p>
        </div>
    }
}

#[cfg(feature = "hydrate")]
fn keys(n: usize) -> String {
    if n == 1 {
        "1 key".to_owned()
    } else {
        format!("{n} keys")
    }
}
