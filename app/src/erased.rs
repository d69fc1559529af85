//! Leptos's generic helpers with their closures boxed first.
//!
//! Leptos compiles its machinery (a listener's attach, erase, clone and
//! hydrate; an effect's task; a `Show`'s memo and branch) once per closure
//! *type*, and every closure is a type of its own. Boxed, every caller of one
//! kind shares a single compiled copy and only each closure's own body stays
//! apart: a smaller browser bundle for the same behaviour. See
//! docs/PERFORMANCE.md, "The WASM bundle, seventh part".
//!
//! - [`handler`]: `on:click=handler(move |_| ...)`.
//! - [`effect`]: in place of `Effect::new`.
//! - [`When`]: in place of `Show`.

use leptos::prelude::*;

/// A DOM event handler for events of type `E` (e.g. `leptos::ev::MouseEvent`).
pub type Handler<E> = Box<dyn FnMut(E)>;

/// Boxes `f` as the one handler type of its event.
pub fn handler<E: 'static>(f: impl FnMut(E) + 'static) -> Handler<E> {
    Box::new(f)
}

/// Runs `f` as an effect: in the browser only, after the page is built, and
/// again whenever a signal it read changes.
pub fn effect(f: impl FnMut() + 'static) {
    effect_boxed(Box::new(f));
}

fn effect_boxed(f: Box<dyn FnMut()>) {
    Effect::new(f);
}

/// Shows its children while `when` is true, and `fallback` (nothing by
/// default) otherwise; each is built again when the condition flips.
#[component]
pub fn When(
    #[prop(into)] when: Signal<bool>,
    children: ChildrenFn,
    #[prop(optional, into)] fallback: ViewFn,
) -> impl IntoView {
    let shown = Memo::new(move |_| when.get());
    move || {
        if shown.get() {
            children()
        } else {
            fallback.run()
        }
    }
}
