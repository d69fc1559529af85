//! The account pages, rendered on the server as plain HTML forms: they work
//! with JavaScript off and cost the browser bundle nothing. Leptos's `view!`
//! renders them, so every value is escaped like the rest of the chat's pages.

use crate::store::{AccountDevice, OwnedRoom, now_ms};
use app::accounts::{PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS, USERNAME_MIN_CHARS};
use app::navigation::Route;
use app::people::{NICK_MAX_CHARS, Nick};
use app::{CommonHead, DocumentTitle};
use leptos::prelude::*;

/// Account pages run no script: styles from this site, forms to this site.
pub const PAGE_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// A whole server-rendered page (accounts, search) around `main`.
pub(crate) fn document(options: &LeptosOptions, title: &str, main: AnyView) -> String {
    let options = options.clone();
    let title = format!("{title} · Chat");
    let owner = Owner::new();
    owner.with(move || {
        view! {
            <!DOCTYPE html>
            <html lang="en">
                <head>
                    <CommonHead options />
                    <DocumentTitle text=title />
                </head>
                <body>
                    <main class="account-page">{main}</main>
                </body>
            </html>
        }
        .to_html()
    })
}

/// What a person who may not read a conversation (or asks for one that
/// does not exist) is shown: the same words for both.
pub fn no_such_room(options: &LeptosOptions) -> String {
    let main = view! {
        <h1>"No such room"</h1>
        <p class="problem">"No room by that name is open to you."</p>
        <a href="/">"Back to the lobby"</a>
    };
    document(options, "No such room", main.into_any())
}

/// Asks before a link from elsewhere starts a direct message.
pub fn start_direct(options: &LeptosOptions, name: &str) -> String {
    let name = name.to_owned();
    let main = view! {
        <h1>{format!("Message {name}?")}</h1>
        <form method="post" action="/dm">
            <input type="hidden" name="name" value=name.clone() />
            <button type="submit">{format!("Message {name}")}</button>
        </form>
        <a href="/">"Back to the lobby"</a>
    };
    document(options, "Direct message", main.into_any())
}

fn problem_line(problem: Option<String>) -> impl IntoView {
    view! { <p class="problem" role="alert">{problem}</p> }
}

fn username_hint() -> String {
    format!(
        "{USERNAME_MIN_CHARS} to {NICK_MAX_CHARS} characters: letters, digits, '.', '_' or '-'."
    )
}

fn password_hint() -> String {
    format!("{PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters.")
}

/// Sign up (`signing_up`) or log in: the same two fields, different promises.
pub fn credentials(
    options: &LeptosOptions,
    signing_up: bool,
    username: &str,
    problem: Option<String>,
) -> String {
    let (title, action, button, password_autocomplete) = if signing_up {
        (
            "Sign up",
            Route::SignUp.pattern(),
            "Sign up",
            "new-password",
        )
    } else {
        (
            "Log in",
            Route::LogIn.pattern(),
            "Log in",
            "current-password",
        )
    };
    let other = if signing_up {
        view! { <p>"Already have an account? " <a href=Route::LogIn.pattern()>"Log in"</a></p> }
            .into_any()
    } else {
        view! { <p>"New here? " <a href=Route::SignUp.pattern()>"Sign up"</a></p> }.into_any()
    };
    let hints = signing_up.then(|| {
        view! {
            <p class="hint" id="username-hint">{username_hint()}</p>
        }
    });
    let password_hint = signing_up.then(|| {
        view! {
            <p class="hint" id="password-hint">{password_hint()}</p>
        }
    });
    let main = view! {
        <h1>{title}</h1>
        <form method="post" action=action>
            <label>
                "Username"
                <input
                    name="username"
                    autocomplete="username"
                    required
                    maxlength=NICK_MAX_CHARS
                    value=username.to_owned()
                />
            </label>
            {hints}
            <label>
                "Password"
                <input
                    type="password"
                    name="password"
                    autocomplete=password_autocomplete
                    required
                    maxlength=PASSWORD_MAX_CHARS
                />
            </label>
            {password_hint}
            {problem_line(problem)}
            <button type="submit">{button}</button>
        </form>
        {other}
        <p>
            <a href="/">"Back to the chat"</a>
            " (you can also chat as a guest, with just a nickname)."
        </p>
    }
    .into_any();
    document(options, title, main)
}

/// What the account page says after a change went through.
#[derive(Debug, Clone, Copy)]
pub enum Done {
    Password,
    Room,
    Moderators,
    Members,
    Device,
}

pub struct AccountView<'a> {
    pub name: &'a Nick,
    pub rooms: &'a [OwnedRoom],
    /// The assistant's name, when there is one (its switch per room).
    pub assistant: Option<&'a Nick>,
    /// The private rooms this person is a member of.
    pub private: &'a [app::rooms::PrivateRoom],
    /// The browsers it reads encrypted conversations in.
    pub devices: &'a [AccountDevice],
    /// The token hash of the session the page is for ("this browser").
    pub session: &'a str,
    pub done: Option<Done>,
    pub problem: Option<String>,
}

pub fn account(options: &LeptosOptions, page: AccountView<'_>) -> String {
    let done = page.done.map(|done| match done {
        Done::Password => "Your password is changed; every other session was logged out.",
        Done::Room => "The room's setting is saved.",
        Done::Moderators => "The room's moderators are saved.",
        Done::Members => "The room's members are saved.",
        Done::Device => {
            "The device is removed: it gets no key to anything said from now on, and its session is logged out."
        }
    });
    let rooms = if page.rooms.is_empty() {
        view! { <p>"Rooms you create while signed in are listed here."</p> }.into_any()
    } else {
        let items = page
            .rooms
            .iter()
            .map(|room| {
                let name = room.name.to_string();
                let (state, button, value) = if room.accounts_only {
                    ("accounts only", format!("Open #{name} to guests"), "off")
                } else {
                    (
                        "open to guests",
                        format!("Make #{name} accounts only"),
                        "on",
                    )
                };
                let (notices, notices_button, notices_value) = if room.quiet_notices {
                    (
                        "join and leave notices hidden",
                        format!("Show join and leave notices in #{name}"),
                        "off",
                    )
                } else {
                    (
                        "join and leave notices shown",
                        format!("Hide join and leave notices in #{name}"),
                        "on",
                    )
                };
                let members = room
                    .name
                    .is_private()
                    .then(|| members_view(room, page.name));
                let moderators = if room.moderators.is_empty() {
                    "Moderators: none yet (you moderate it as its owner).".to_owned()
                } else {
                    let names: Vec<&str> = room.moderators.iter().map(Nick::as_str).collect();
                    format!("Moderators: {}.", names.join(", "))
                };
                view! {
                    <li>
                        <a href=room.name.path()>{format!("#{name}")}</a>
                        {format!(" ({state}) ")}
                        <form method="post" action="/account/rooms">
                            <input type="hidden" name="room" value=name.clone() />
                            <input type="hidden" name="accounts_only" value=value />
                            <button type="submit">{button}</button>
                        </form>
                        <p>{format!("#{name}: {notices}.")}</p>
                        <form method="post" action="/account/rooms">
                            <input type="hidden" name="room" value=name.clone() />
                            <input type="hidden" name="quiet_notices" value=notices_value />
                            <button type="submit">{notices_button}</button>
                        </form>
                        {page.assistant.filter(|_| !room.name.is_private()).map(|bot| {
                            let (said, button, value) = if room.assistant_off {
                                ("does not answer", format!("Let {bot} answer in #{name}"), "off")
                            } else {
                                ("answers when mentioned", format!("Turn {bot} off in #{name}"), "on")
                            };
                            view! {
                                <p>{format!("#{name}: {bot} {said}.")}</p>
                                <form method="post" action="/account/rooms">
                                    <input type="hidden" name="room" value=name.clone() />
                                    <input type="hidden" name="assistant_off" value=value />
                                    <button type="submit">{button}</button>
                                </form>
                            }
                        })}
                        <form method="post" action="/account/retention">
                            <input type="hidden" name="room" value=name.clone() />
                            <label>
                                {format!("Delete messages in #{name} after (days)")}
                                <input
                                    type="number"
                                    name="days"
                                    min="1"
                                    max="36500"
                                    placeholder="never"
                                    value=room.retention_days.map(|d| d.to_string()).unwrap_or_default()
                                />
                            </label>
                            <button type="submit">"Save"</button>
                        </form>
                        {members}
                        <p>{moderators}</p>
                        <form method="post" action="/account/moderators">
                            <input type="hidden" name="room" value=name.clone() />
                            <label>
                                {format!("Moderator of #{name}")}
                                <input
                                    name="name"
                                    required
                                    maxlength=NICK_MAX_CHARS
                                    autocomplete="off"
                                />
                            </label>
                            <button type="submit" name="on" value="on">
                                "Make moderator"
                            </button>
                            <button type="submit" name="on" value="off">
                                "Remove moderator"
                            </button>
                        </form>
                    </li>
                }
            })
            .collect_view();
        view! { <ul aria-label="Your rooms">{items}</ul> }.into_any()
    };
    let main = view! {
        <h1>"Account"</h1>
        <p>"Signed in as " <strong>{page.name.to_string()}</strong></p>
        <p class="done" role="status">{done}</p>
        {problem_line(page.problem)}
        <section aria-labelledby="password-heading">
            <h2 id="password-heading">"Change password"</h2>
            <form method="post" action="/account/password">
                <label>
                    "Current password"
                    <input
                        type="password"
                        name="current"
                        autocomplete="current-password"
                        required
                        maxlength=PASSWORD_MAX_CHARS
                    />
                </label>
                <label>
                    "New password"
                    <input
                        type="password"
                        name="new"
                        autocomplete="new-password"
                        required
                        maxlength=PASSWORD_MAX_CHARS
                    />
                </label>
                <p class="hint">{password_hint()} " Every other session is logged out."</p>
                <button type="submit">"Change password"</button>
            </form>
        </section>
        <section aria-labelledby="member-heading">
            <h2 id="member-heading">"Private rooms and direct messages"</h2>
            {if page.private.is_empty() {
                view! { <p>"None yet: a room's owner lets you in by your username."</p> }
                    .into_any()
            } else {
                let links = page
                    .private
                    .iter()
                    .map(|private| {
                        let label = match &private.with {
                            Some(with) => format!("Direct messages with {with}"),
                            None => format!("#{}", private.room),
                        };
                        view! { <li><a href=private.room.path()>{label}</a></li> }
                    })
                    .collect_view();
                view! { <ul aria-label="Private rooms you are in">{links}</ul> }.into_any()
            }}
        </section>
        <section aria-labelledby="private-heading">
            <h2 id="private-heading">"New private room"</h2>
            <p class="hint">
                "Only the people you invite can find it, read it or take part."
            </p>
            <form method="post" action="/account/private-rooms">
                <label>
                    "Room name"
                    <input
                        name="room"
                        required
                        maxlength=app::rooms::PRIVATE_NAME_MAX_CHARS
                        autocomplete="off"
                    />
                </label>
                <button type="submit">"Create"</button>
            </form>
        </section>
        <section aria-labelledby="rooms-heading">
            <h2 id="rooms-heading">"Your rooms"</h2>
            <p class="hint">"A room closed to guests lets only signed-in people join."</p>
            {rooms}
        </section>
        <section aria-labelledby="devices-heading">
            <h2 id="devices-heading">"Devices"</h2>
            <p class="hint">
                "Each browser you have read private rooms or direct messages in. Remove one you have lost or no longer use: it cannot read anything said after, and it is logged out. The people you talk to see its safety number change."
            </p>
            {devices_view(page.devices, page.session)}
        </section>
        <section aria-labelledby="sessions-heading">
            <h2 id="sessions-heading">"Sessions"</h2>
            <form method="post" action="/logout">
                <button type="submit">"Log out"</button>
            </form>
            <form method="post" action="/account/logout-everywhere">
                <button type="submit">"Log out everywhere"</button>
            </form>
        </section>
        <section aria-labelledby="data-heading">
            <h2 id="data-heading">"Your data"</h2>
            <p class="hint">
                "Your account, the messages you sent, your reactions, the files you uploaded and the rooms you own or belong to, as one JSON file."
            </p>
            <p>
                <a href="/account/data" download>"Download my data"</a>
            </p>
        </section>
        <section aria-labelledby="delete-heading">
            <h2 id="delete-heading">"Delete account"</h2>
            <p class="hint">
                "Your messages stay, shown as written by “deleted user”; your name becomes free."
            </p>
            <form method="post" action="/account/delete">
                <label>
                    "Confirm with your password"
                    <input
                        type="password"
                        name="password"
                        autocomplete="current-password"
                        required
                        maxlength=PASSWORD_MAX_CHARS
                    />
                </label>
                <button type="submit">"Delete account"</button>
            </form>
        </section>
        <p><a href="/">"Back to the chat"</a></p>
    }
    .into_any();
    document(options, "Account", main)
}

/// The account's devices, each with the button that removes it.
fn devices_view(devices: &[AccountDevice], session: &str) -> impl IntoView + use<> {
    if devices.is_empty() {
        return view! { <p>"None yet: a browser becomes one when you open a private room or a direct message in it."</p> }
            .into_any();
    }
    let today = app::clock::day_number(now_ms(), 0);
    let when = move |at: i64| {
        format!(
            "{} {} UTC",
            app::clock::day_label(app::clock::day_number(at, 0), Some(today)),
            app::clock::hhmm_utc(at)
        )
    };
    let items = devices
        .iter()
        .map(|device| {
            let id = device.id.as_str().to_owned();
            let short: String = id.chars().take(8).collect();
            let here = (device.session.as_deref() == Some(session)).then_some(" (this browser)");
            let line = format!(
                "{}, {short}{}: added {}, last used {}.",
                device.browser,
                here.unwrap_or_default(),
                when(device.created_at),
                when(device.seen_at)
            );
            view! {
                <li>
                    {line}
                    <form method="post" action="/account/devices">
                        <input type="hidden" name="device" value=id />
                        <button type="submit">{format!("Remove device {short}")}</button>
                    </form>
                </li>
            }
        })
        .collect_view();
    view! { <ul aria-label="Your devices">{items}</ul> }.into_any()
}

/// A private room's members, each with a button to take them out (not the
/// owner, who is always in), and the form to invite someone.
fn members_view(room: &OwnedRoom, owner: &Nick) -> impl IntoView + use<> {
    let name = room.name.to_string();
    let items = room
        .members
        .iter()
        .map(|member| {
            let removable = member != owner;
            let form = removable.then(|| {
                view! {
                    <form method="post" action="/account/members">
                        <input type="hidden" name="room" value=name.clone() />
                        <input type="hidden" name="name" value=member.to_string() />
                        <button type="submit" name="on" value="off">
                            {format!("Remove {member}")}
                        </button>
                    </form>
                }
            });
            view! {
                <li>
                    <bdi>{member.to_string()}</bdi>
                    {form}
                </li>
            }
        })
        .collect_view();
    view! {
        <ul aria-label="Members">{items}</ul>
        <form method="post" action="/account/members">
            <input type="hidden" name="room" value=name.clone() />
            <label>
                "Invite username"
                <input name="name" required maxlength=NICK_MAX_CHARS autocomplete="off" />
            </label>
            <button type="submit" name="on" value="on">
                "Send invite"
            </button>
        </form>
    }
}
