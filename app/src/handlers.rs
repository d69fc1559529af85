//! DOM event handlers, boxed: `on:click=handler(move |_| ...)`.
//!
//! Leptos compiles its listener code (attach, erase, clone, hydrate) once
//! per handler *type*, and every closure is a type of its own. Boxed as
//! `Box<dyn FnMut(E)>`, all the handlers of one event share a single copy;
//! only each closure's own body stays apart. See docs/PERFORMANCE.md, "The
//! WASM bundle, seventh part".

/// A handler for events of type `E` (e.g. `leptos::ev::MouseEvent`).
pub type Handler<E> = Box<dyn FnMut(E)>;

/// Boxes `f` as the one handler type of its event.
pub fn handler<E: 'static>(f: impl FnMut(E) + 'static) -> Handler<E> {
    Box::new(f)
}
