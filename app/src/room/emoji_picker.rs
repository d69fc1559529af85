//! The emoji picker: a searchable palette, fetched from the server the first
//! time it opens.

use crate::emoji::{self, EmojiChoice};
use crate::erased::{effect, handler};
use leptos::html;
use leptos::prelude::*;

/// The palette, fetched on first open; the first page keeps the WASM lean.
#[component]
pub(super) fn EmojiPicker(
    // Callbacks, not generic closures: the composer and the reaction
    // picker share one compiled copy of this component.
    #[prop(into)] on_pick: Callback<String>,
    #[prop(into)] on_close: Callback<()>,
) -> impl IntoView {
    let palette = LocalResource::new(emoji::emoji_palette);
    let filter = RwSignal::new(String::new());
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
                prop:value=filter
                on:input=handler(move |ev| filter.set(event_target_value(&ev).to_ascii_lowercase()))
            />
            <Suspense fallback=|| view! { <p>"Loading emoji…"</p> }>
                {move || Suspend::new(async move {
                    let groups = palette.await.unwrap_or_default();
                    view! {
                        <div class="emoji-groups">
                            {move || {
                                let wanted = filter.get();
                                groups
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
                                    .collect_view()
                            }}
                        </div>
                    }
                })}
            </Suspense>
        </div>
    }
}
