//! Picking a nickname: [`NickField`], the one "Nickname" field used by both
//! the lobby's join form and the room page, and [`NickForm`], the room page's
//! own small form around it for a shared link or a nickname that was taken.

use crate::erased::Slot;
use crate::erased::{effect, handler};
use crate::people::{NICK_MAX_CHARS, Nick};
use crate::storage;
use leptos::html;
use leptos::prelude::*;

/// The labelled nickname input, offering the remembered nickname.
///
/// It keeps its own value (no `prop:value`) and is read through `input` on
/// submit: what a person types before the page has hydrated must not be
/// reset by hydration.
///
/// `plain_form`: the surrounding form also works without JavaScript (the
/// lobby's GET to `/join`), so the field carries its query name and the
/// browser checks that it is filled in. The room page's form only exists
/// once hydrated and explains a missing nickname itself.
#[component]
pub fn NickField(input: NodeRef<html::Input>, #[prop(optional)] plain_form: bool) -> impl IntoView {
    // The remembered nickname is only known in the browser, after hydration;
    // anything already typed wins over it.
    effect(move || {
        if let (Some(saved), Some(input)) = (storage::nick(), input.get())
            && input.value().is_empty()
        {
            input.set_value(&saved);
        }
    });
    view! {
        <label>
            "Nickname"
            <input
                name=plain_form.then_some("nick")
                autocomplete="nickname"
                maxlength=NICK_MAX_CHARS
                required=plain_form
                node_ref=input
            />
        </label>
    }
}

/// Asks for a nickname on the room page itself (a shared link, or a taken
/// nick). Without JavaScript it reloads the room page with `?nick=`.
#[component]
pub fn NickForm(
    on_pick: impl Fn(Nick) + Clone + 'static,
    /// The room page's own path.
    action: String,
) -> impl IntoView {
    let nick_ref = NodeRef::<html::Input>::new();
    let problem = Slot::new(None::<String>);
    view! {
        <form
            class="nick-form"
            method="get"
            action=action
            on:submit=handler(move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                let typed = nick_ref.get_untracked().map(|i| i.value()).unwrap_or_default();
                match Nick::parse(&typed) {
                    Ok(n) => {
                        storage::set_nick(n.as_str());
                        on_pick(n);
                    }
                    Err(reason) => problem.set(Some(reason.to_string())),
                }
            })
        >
            <NickField input=nick_ref plain_form=true />
            <button type="submit">"Join"</button>
            <span class="problem">{move || problem.get()}</span>
        </form>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    /// The field's HTML without hydration markers (`<!>`: where the page's
    /// script finds its nodes again; none of a person's business).
    fn html(plain_form: bool) -> String {
        let owner = Owner::new();
        owner
            .with(|| view! { <NickField input=NodeRef::new() plain_form /> }.to_html())
            .replace("<!>", "")
    }

    #[test]
    fn the_lobby_field_submits_without_javascript() {
        assert_eq!(
            html(true),
            format!(
                r#"<label>Nickname<input name="nick" autocomplete="nickname" maxlength="{NICK_MAX_CHARS}" required></label>"#
            )
        );
    }

    #[test]
    fn the_room_field_is_read_by_the_page() {
        assert_eq!(
            html(false),
            format!(
                r#"<label>Nickname<input autocomplete="nickname" maxlength="{NICK_MAX_CHARS}"></label>"#
            )
        );
    }
}
