//! Getting a person's attention while the tab is hidden: a desktop
//! notification and a short sound per new message, each behind a toggle that
//! the browser remembers. Permission is only asked for after a click on the
//! bell, never on load (browsers penalise sites that ask unprompted).

use crate::erased::Slot;
use crate::erased::{effect, handler};
use crate::markup;
use crate::messages::{Entry, EntryKind};
use crate::people::Nick;
use crate::rooms::RoomName;
use crate::storage::{self, NOTIFY, SOUND};
use leptos::prelude::*;

/// The two toggles; cheap to copy.
#[derive(Clone, Copy)]
pub struct Alerts {
    pub notify: Slot<bool>,
    pub sound: Slot<bool>,
    /// Why notifications could not be turned on, for the person.
    pub problem: Slot<Option<String>>,
}

impl Alerts {
    pub fn provide() -> Self {
        let alerts = Self {
            notify: Slot::new(false),
            sound: Slot::new(false),
            problem: Slot::new(None),
        };
        provide_context(alerts);
        // Saved choices are only readable in the browser, after hydration.
        effect(move || {
            alerts
                .notify
                .set(storage::flag(NOTIFY) && browser::permitted());
            alerts.sound.set(storage::flag(SOUND));
        });
        alerts
    }

    pub fn from_context() -> Self {
        expect_context::<Self>()
    }

    /// A message from someone else arrived in `room`.
    pub fn on_message(&self, room: &RoomName, entry: &Entry, me: Option<&Nick>) {
        if !browser::hidden() {
            return;
        }
        let EntryKind::Message { body, .. } = &entry.kind else {
            return;
        };
        if self.notify.get_untracked() {
            let mentioned = me.is_some_and(|me| markup::mentions(body.as_str(), me.as_str()));
            let title = if mentioned {
                format!("{} mentioned you in #{room}", entry.nick)
            } else {
                format!("{} in #{room}", entry.nick)
            };
            // An encrypted message is not opened for the system's
            // notification centre, which keeps what it is shown.
            let text = if crate::e2e::is_sealed(body.as_str()) {
                "New encrypted message".to_owned()
            } else {
                markup::plain_text(&markup::parse(body.as_str()))
            };
            browser::notify(&title, &text, room.as_str());
        }
        if self.sound.get_untracked() {
            browser::beep();
        }
    }

    fn toggle_notify(self) {
        if self.notify.get_untracked() {
            self.notify.set(false);
            storage::set_flag(NOTIFY, false);
        } else {
            self.ask_and_turn_on();
        }
    }

    fn ask_and_turn_on(self) {
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            if browser::ask_permission().await {
                self.notify.set(true);
                self.problem.set(None);
                storage::set_flag(NOTIFY, true);
            } else {
                self.problem.set(Some(
                    "Notifications are blocked for this site in the browser's settings.".into(),
                ));
            }
        });
    }

    fn toggle_sound(self) {
        let on = !self.sound.get_untracked();
        if on {
            // Created inside the click, browsers let it play later on.
            browser::unlock_audio();
        }
        self.sound.set(on);
        storage::set_flag(SOUND, on);
    }
}

/// The tab is in the background (another tab, a minimised window).
pub fn tab_hidden() -> bool {
    browser::hidden()
}

/// Lets sound play later: call it inside a click or key press.
pub fn unlock_audio() {
    browser::unlock_audio();
}

/// The bell and sound toggles.
#[component]
pub fn AlertToggles() -> impl IntoView {
    let alerts = Alerts::from_context();
    view! {
        <div class="alert-toggles">
            <Toggle
                name="Notifications"
                hint="Desktop notifications while this tab is hidden"
                on=alerts.notify
                icons=(crate::icons::BELL, crate::icons::BELL_OFF)
                flip=move || alerts.toggle_notify()
            />
            <Toggle
                name="Sound"
                hint="A short sound for new messages while this tab is hidden"
                on=alerts.sound
                icons=(crate::icons::SPEAKER, crate::icons::SPEAKER_QUIET)
                flip=move || alerts.toggle_sound()
            />
            <p class="problem" role="alert">
                {move || alerts.problem.get()}
            </p>
        </div>
    }
}

/// A pressed/unpressed button named for screen readers, shown as an icon.
#[component]
fn Toggle(
    name: &'static str,
    hint: &'static str,
    on: Slot<bool>,
    icons: (&'static str, &'static str),
    flip: impl Fn() + 'static,
) -> impl IntoView {
    view! {
        <button
            type="button"
            class="toggle"
            aria-label=name
            title=hint
            aria-pressed=move || on.get().to_string()
            on:click=handler(move |_| flip())
        >
            <crate::icons::Icon path=Signal::derive(move || if on.get() { icons.0 } else { icons.1 }) />
        </button>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::RefCell;
    use wasm_bindgen::JsCast;
    use web_sys::{AudioContext, Notification, NotificationOptions, NotificationPermission};

    thread_local! {
        static AUDIO: RefCell<Option<AudioContext>> = const { RefCell::new(None) };
    }

    pub fn hidden() -> bool {
        web_sys::window()
            .and_then(|w| w.document())
            .is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Hidden)
    }

    fn supported() -> bool {
        js_sys::Reflect::has(&js_sys::global(), &"Notification".into()).unwrap_or(false)
    }

    pub fn permitted() -> bool {
        supported() && Notification::permission() == NotificationPermission::Granted
    }

    pub async fn ask_permission() -> bool {
        if !supported() {
            return false;
        }
        if Notification::permission() == NotificationPermission::Granted {
            return true;
        }
        let Ok(promise) = Notification::request_permission() else {
            return false;
        };
        match wasm_bindgen_futures::JsFuture::from(promise).await {
            Ok(answer) => answer.as_string().as_deref() == Some("granted"),
            Err(_) => false,
        }
    }

    pub fn notify(title: &str, body: &str, tag: &str) {
        if !permitted() {
            return;
        }
        let options = NotificationOptions::new();
        options.set_body(body);
        options.set_tag(tag);
        let _ = Notification::new_with_options(title, &options);
    }

    pub fn unlock_audio() {
        AUDIO.with(|audio| {
            let mut audio = audio.borrow_mut();
            if audio.is_none() {
                *audio = AudioContext::new().ok();
            }
            if let Some(ctx) = audio.as_ref() {
                let _ = ctx.resume();
            }
        });
    }

    /// A soft 150 ms tone.
    pub fn beep() {
        unlock_audio();
        AUDIO.with(|audio| {
            let Some(ctx) = audio.borrow().clone() else {
                return;
            };
            let play = || -> Result<(), wasm_bindgen::JsValue> {
                let tone = ctx.create_oscillator()?;
                let volume = ctx.create_gain()?;
                tone.frequency().set_value(880.0);
                volume.gain().set_value(0.08);
                tone.connect_with_audio_node(&volume)?;
                volume.connect_with_audio_node(&ctx.destination())?;
                let source: &web_sys::AudioScheduledSourceNode = tone.unchecked_ref();
                source.start()?;
                source.stop_with_when(ctx.current_time() + 0.15)?;
                Ok(())
            };
            let _ = play();
        });
    }
}

#[cfg(not(feature = "hydrate"))]
mod browser {
    pub fn hidden() -> bool {
        false
    }
    pub fn permitted() -> bool {
        false
    }
    pub fn notify(_title: &str, _body: &str, _tag: &str) {}
    pub fn unlock_audio() {}
    pub fn beep() {}
}
