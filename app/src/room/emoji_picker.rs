//! The emoji picker: a searchable palette, fetched from the server each time
//! it opens.

use crate::emoji::{self, EmojiChoice, EmojiGroup};
use crate::erased::Slot;
use crate::erased::{effect, handler};
use leptos::html;
use leptos::prelude::*;

/// The palette, fetched when the picker opens: the first page stays lean.
#[component]
pub(super) fn EmojiPicker(
    // Callbacks, not generic closures: the composer and the reaction
    // picker share one compiled copy of this component.
    #[prop(into)] on_pick: Callback<String>,
    #[prop(into)] on_close: Callback<()>,
) -> impl IntoView {
    // A signal filled by a task, not a `LocalResource` under `Suspense`:
    // the picker is never rendered on the server, and the resource and
    // suspense machinery cost the bundle more than the picker itself.
    let palette = Slot::new(None::<Vec<EmojiGroup>>);
    leptos::task::spawn_local(async move {
        palette.set(Some(emoji::fetch_palette().await.unwrap_or_default()));
    });
    let filter = Slot::new(String::new());
    let search_ref = NodeRef::<html::Input>::new();
    // Opening the picker puts the keyboard in its search box.
    effect(move || {
        if let Some(el) = search_ref.get() {
            let _ = el.focus();
        }
    });
    view! {
        <div
            class="emoji-picker"
            role="dialog"
            aria-label="Emoji picker"
            on:keydown=handler(move |ev: leptos::ev::KeyboardEvent| {
                if ev.key() == "Escape" {
                    ev.prevent_default();
                    on_close.run(());
                }
            })
        >
            <input
                class="emoji-filter"
                aria-label="Search emoji"
                placeholder="Search emoji"
                node_ref=search_ref
                prop:value=move || filter.get()
                on:input=handler(move |ev| filter.set(event_target_value(&ev).to_ascii_lowercase()))
            />
            {move || {
                let wanted = filter.get();
                palette
                    .with(|groups| {
                        let Some(groups) = groups else {
                            return view! { <p>"Loading emoji…"</p> }.into_any();
                        };
                        view! {
                            <div class="emoji-groups">
                                {groups
                                    .iter()
                                    .map(|group| {
                                        let shown: Vec<EmojiChoice> = group
                                            .emojis
                                            .iter()
                                            .filter(|e| e.shortcode.contains(wanted.as_str()))
                                            .cloned()
                                            .collect();
                                        (!shown.is_empty())
                                            .then(|| {
                                                view! {
                                                    <section>
                                                        <h3>{group.name.clone()}</h3>
                                                        <div class="emoji-grid">
                                                            {shown
                                                                .into_iter()
                                                                .map(|e| {
                                                                    let code = format!(":{}:", e.shortcode);
                                                                    let emoji = e.emoji.clone();
                                                                    view! {
                                                                        <button
                                                                            type="button"
                                                                            aria-label=code.clone()
                                                                            title=code
                                                                            on:click=handler(move |_| on_pick.run(emoji.clone()))
                                                                        >
                                                                            {e.emoji}
                                                                        </button>
                                                                    }
                                                                })
                                                                .collect_view()}
                                                        </div>
                                                    </section>
                                                }
                                            })
                                    })
                                    .collect_view()}
                            </div>
                        }
                            .into_any()
                    })
            }}
        </div>
    }
}
