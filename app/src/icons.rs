//! The buttons' icons, drawn as inline SVG strokes in the text's colour: an
//! emoji character shows as an empty box where no emoji font is installed
//! (a fresh Debian Chromium), and takes the font's colours, not the theme's.
//! Each icon is one path on a 24-unit grid; one component draws them all.

use leptos::prelude::*;

pub const BELL: &str = "M6 16v-5a6 6 0 0 1 12 0v5l2 2H4z M10 20a2 2 0 0 0 4 0";
pub const BELL_OFF: &str = "M6 16v-5a6 6 0 0 1 12 0v5l2 2H4z M10 20a2 2 0 0 0 4 0 M3 3l18 18";
pub const SPEAKER: &str = "M4 9h4l5-4v14l-5-4H4z M16 9a4 4 0 0 1 0 6 M19 6a8 8 0 0 1 0 12";
pub const SPEAKER_QUIET: &str = "M4 9h4l5-4v14l-5-4H4z";
pub const SMILE: &str =
    "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z M8 14a5 5 0 0 0 8 0 M9 9.5h.01 M15 9.5h.01";
pub const PAPERCLIP: &str =
    "M20 11l-8 8a5 5 0 0 1-7-7l8-8a3.5 3.5 0 0 1 5 5l-8 8a2 2 0 0 1-3-3l7-7";

/// One icon, hidden from screen readers (its button carries the name).
#[component]
pub fn Icon(#[prop(into)] path: Signal<&'static str>) -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
            <path d=move || path.get() />
        </svg>
    }
}
