//! Leptos's generic helpers with their closures boxed and their values'
//! types erased first.
//!
//! Leptos compiles its machinery (a listener's attach, erase, clone and
//! hydrate; an effect's task; a `Show`'s memo and branch) once per closure
//! *type*, and every closure is a type of its own. Boxed, every caller of one
//! kind shares a single compiled copy and only each closure's own body stays
//! apart: a smaller browser bundle for the same behaviour. Signals likewise
//! compile their code (arena, subscribers, guards) once per value type; with
//! the value behind `dyn Any` there is one. See docs/PERFORMANCE.md, "The
//! WASM bundle", seventh and eighth parts.
//!
//! - [`handler`]: `on:click=handler(move |_| ...)`.
//! - [`effect`]: in place of `Effect::new`.
//! - [`When`]: in place of `Show`.
//! - [`Slot`] and [`Kept`]: in place of `RwSignal` and `StoredValue`.
//! - [`Bell`]: in place of `Trigger`.

use leptos::prelude::*;
use std::any::Any;
use std::marker::PhantomData;

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

/// What a [`Slot`] or a [`Kept`] holds, its type erased, so that Leptos's
/// signal and arena code is compiled once for all of them.
type Value = dyn Any + Send + Sync;

/// A reactive value, used like `RwSignal<T>`: readers in an effect or a view
/// run again when it is set. Every slot is one `RwSignal<Box<dyn Any>>`, so
/// the signal machinery (about 3.5 KB of code per value type with
/// `RwSignal`) is compiled once; only the typed accessors below are per type.
pub struct Slot<T> {
    signal: RwSignal<Box<Value>>,
    kind: PhantomData<fn() -> T>,
}

impl<T> Clone for Slot<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Slot<T> {}

impl<T: Send + Sync + 'static> Slot<T> {
    pub fn new(value: T) -> Self {
        Self {
            signal: RwSignal::new(Box::new(value)),
            kind: PhantomData,
        }
    }

    /// Reads the value and subscribes the running effect to it.
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        self.try_read(true, f).expect(DISPOSED)
    }

    pub fn with_untracked<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        self.try_read(false, f).expect(DISPOSED)
    }

    /// Changes the value in place and wakes its readers.
    pub fn update(&self, f: impl FnOnce(&mut T)) {
        write_typed(|g| write_signal(self.signal, g), f);
    }

    pub fn set(&self, value: T) {
        self.update(|held| *held = value);
    }

    fn try_read<R>(&self, tracked: bool, f: impl FnOnce(&T) -> R) -> Option<R> {
        read_typed(|g| read_signal(self.signal, tracked, g), f)
    }
}

impl<T: Clone + Send + Sync + 'static> Slot<T> {
    pub fn get(&self) -> T {
        self.with(T::clone)
    }

    pub fn get_untracked(&self) -> T {
        self.with_untracked(T::clone)
    }
}

/// A value kept beside the reactive ones but read by no effect, used like
/// `StoredValue<T>`, and compiled once for all types as [`Slot`] is.
pub struct Kept<T> {
    stored: StoredValue<Box<Value>>,
    kind: PhantomData<fn() -> T>,
}

impl<T> Clone for Kept<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Kept<T> {}

impl<T: Send + Sync + 'static> Kept<T> {
    pub fn new(value: T) -> Self {
        Self {
            stored: StoredValue::new(Box::new(value)),
            kind: PhantomData,
        }
    }

    pub fn with_value<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        read_typed(|g| read_stored(self.stored, g), f).expect(DISPOSED)
    }

    /// Changes the value in place; `None` once its owner is gone.
    pub fn try_update_value<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        write_typed(|g| write_stored(self.stored, g), f)
    }

    /// Like `StoredValue`, does nothing once its owner is gone.
    pub fn update_value(&self, f: impl FnOnce(&mut T)) {
        let _ = self.try_update_value(f);
    }

    pub fn set_value(&self, value: T) {
        self.update_value(|held| *held = value);
    }
}

impl<T: Clone + Send + Sync + 'static> Kept<T> {
    pub fn get_value(&self) -> T {
        self.with_value(T::clone)
    }
}

/// A change that readers listen for, with no value of its own, used like
/// `Trigger`: it is a `Slot<()>`, so it adds no signal code of its own (a
/// `Trigger` brings 1.8 KB).
#[derive(Clone, Copy)]
pub struct Bell(Slot<()>);

impl Bell {
    pub fn new() -> Self {
        Self(Slot::new(()))
    }

    /// Subscribes the running effect to the bell.
    pub fn listen(&self) {
        self.0.with(|_| ());
    }

    /// Wakes every listener.
    pub fn ring(&self) {
        self.0.update(|_| ());
    }
}

impl Default for Bell {
    fn default() -> Self {
        Self::new()
    }
}

const DISPOSED: &str = "a reactive value read after its owner was disposed";

const WRONG_TYPE: &str = "a slot holds the type it was made with";

/// Runs `f` once on the value that `access` (one of the erased readers
/// below) lends, as a `T`; `None` when the owner is gone.
fn read_typed<T: 'static, R>(
    access: impl FnOnce(&mut dyn FnMut(&Value)),
    f: impl FnOnce(&T) -> R,
) -> Option<R> {
    let mut f = Some(f);
    let mut out = None;
    access(&mut |value| out = f.take().map(|f| f(value.downcast_ref().expect(WRONG_TYPE))));
    out
}

/// As [`read_typed`], for the erased writers.
fn write_typed<T: 'static, R>(
    access: impl FnOnce(&mut dyn FnMut(&mut Value)),
    f: impl FnOnce(&mut T) -> R,
) -> Option<R> {
    let mut f = Some(f);
    let mut out = None;
    access(&mut |value| out = f.take().map(|f| f(value.downcast_mut().expect(WRONG_TYPE))));
    out
}

fn read_signal(signal: RwSignal<Box<Value>>, tracked: bool, f: &mut dyn FnMut(&Value)) {
    if tracked {
        signal.try_with(|value| f(&**value));
    } else {
        signal.try_with_untracked(|value| f(&**value));
    }
}

fn write_signal(signal: RwSignal<Box<Value>>, f: &mut dyn FnMut(&mut Value)) {
    signal.try_update(|value| f(&mut **value));
}

fn read_stored(stored: StoredValue<Box<Value>>, f: &mut dyn FnMut(&Value)) {
    stored.try_with_value(|value| f(&**value));
}

fn write_stored(stored: StoredValue<Box<Value>>, f: &mut dyn FnMut(&mut Value)) {
    stored.try_update_value(|value| f(&mut **value));
}
