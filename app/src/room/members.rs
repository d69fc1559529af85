//! A private room's members beside its log: who may read it, the safety
//! number with each, and for its owner a button to take each out and a form
//! to invite someone. The forms
//! are plain posts (they work without JavaScript); the server sends the
//! page back, with the new list.

use crate::conversation::Conversation;
use crate::erased::{Slot, handler};
use crate::people::NICK_MAX_CHARS;
use crate::rooms::{RoomName, Roster};
use leptos::prelude::*;

/// Where an owner's changes to the members go (the account page's form
/// handler; `then=room` brings them back here).
const MEMBERS_PATH: &str = "/account/members";

#[component]
pub(super) fn Members(
    conv: Conversation,
    room: RoomName,
    roster: Roster,
    /// The reader, who has no safety number with themselves.
    me: Option<crate::people::Nick>,
) -> impl IntoView {
    let inviting = Slot::new(false);
    let yours = roster.yours;
    let items = roster
        .members
        .iter()
        .map(|member| {
            let owner = roster.owner.as_ref() == Some(member);
            let remove = (yours && !owner).then(|| {
                view! {
                    <form method="post" action=MEMBERS_PATH>
                        <input type="hidden" name="room" value=room.to_string() />
                        <input type="hidden" name="name" value=member.to_string() />
                        <input type="hidden" name="then" value="room" />
                        <button type="submit" name="on" value="off">
                            {format!("Remove {member}")}
                        </button>
                    </form>
                }
            });
            let safety = (me.as_ref() != Some(member)).then(|| {
                let label = format!("Safety number with {member}");
                view! { <super::safety::SafetyNumber conv with=member.clone() label /> }
            });
            view! {
                <li>
                    <bdi>{member.to_string()}</bdi>
                    {owner.then(|| view! { <span class="owner">" owner"</span> })}
                    {remove}
                    {safety}
                </li>
            }
        })
        .collect_view();
    let invite = yours.then(|| {
        let room = room.to_string();
        view! {
            <button
                type="button"
                aria-expanded=move || inviting.get().to_string()
                on:click=handler(move |_| inviting.update(|open| *open = !*open))
            >
                "Invite"
            </button>
            <form method="post" action=MEMBERS_PATH class="invite" hidden=move || !inviting.get()>
                <input type="hidden" name="room" value=room />
                <input type="hidden" name="then" value="room" />
                <label>
                    "Invite username"
                    <input name="name" required maxlength=NICK_MAX_CHARS autocomplete="off" />
                </label>
                <button type="submit" name="on" value="on">
                    "Send invite"
                </button>
            </form>
        }
    });
    view! {
        <section class="members" aria-labelledby="members-heading">
            <h2 id="members-heading">"Members"</h2>
            <ul aria-label="Members">{items}</ul>
            {invite}
        </section>
    }
}
