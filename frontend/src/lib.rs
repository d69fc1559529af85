//! The browser entry point of the chat.
//!
//! Layout: this crate is only a `cdylib` wrapper; every page, component and the
//! browser socket live in the `app` crate (built with its `hydrate` feature).
//! `hydrate()` is called by the script cargo-leptos injects into each page.

// The room page is one deeply nested view type; its layout query needs more
// depth than the default 128.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // The release bundle aborts at once on a panic (`scripts/bundle`), so a
    // hook would never run there; a development build shows the message.
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
