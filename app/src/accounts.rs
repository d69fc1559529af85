//! Accounts as the pages see them: the rules for usernames and passwords
//! (checked by the server's forms), who this browser is signed in as, and the
//! links and "Log out" button that follow from it.
//!
//! Signing up, in and out are plain HTML forms the server renders and handles
//! (`/signup`, `/login`, `/logout`, `/account`), so they work without
//! JavaScript and add nothing to the browser's download; the session lives in
//! an HttpOnly cookie the page's code never sees.

use crate::navigation::Route;
use crate::people::{NICK_MAX_CHARS, Nick};
use leptos::prelude::*;

/// Shortest username, in characters.
pub const USERNAME_MIN_CHARS: usize = 2;
/// Password length limits, in characters (OWASP: at least 8, allow long
/// passphrases, cap what one hash has to chew on).
pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 128;

/// Why a username was refused; the text is shown on the form as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error(
        "A username is {USERNAME_MIN_CHARS} to {NICK_MAX_CHARS} characters: letters, digits, '.', '_' or '-', starting with a letter or digit."
    )]
    Rules,
}

/// Why a password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("The password is too short: use at least {PASSWORD_MIN_CHARS} characters.")]
    TooShort,
    #[error("The password is too long: use at most {PASSWORD_MAX_CHARS} characters.")]
    TooLong,
}

/// A username is a nickname that stays someone's: stricter rules (no spaces
/// or symbols, so it reads the same everywhere it is shown or typed).
pub fn parse_username(raw: &str) -> Result<Nick, UsernameError> {
    let name = raw.trim();
    let count = name.chars().count();
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, '.' | '_' | '-');
    if !(USERNAME_MIN_CHARS..=NICK_MAX_CHARS).contains(&count)
        || !name.chars().all(allowed)
        || !name.chars().next().is_some_and(char::is_alphanumeric)
    {
        return Err(UsernameError::Rules);
    }
    Nick::parse(name).map_err(|_| UsernameError::Rules)
}

pub fn check_password(password: &str) -> Result<(), PasswordError> {
    match password.chars().count() {
        n if n < PASSWORD_MIN_CHARS => Err(PasswordError::TooShort),
        n if n > PASSWORD_MAX_CHARS => Err(PasswordError::TooLong),
        _ => Ok(()),
    }
}

/// Who the page is for: the server looks the session cookie up before
/// rendering and puts the name in request extensions ([`SignedInAs`]); the page
/// carries it in a `<meta name="chat-viewer">` for the browser, so the hydrated
/// page starts out agreeing with the server's HTML without a round trip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedInAs(pub Nick);

/// The name of the meta tag carrying the signed-in name to the browser.
pub const VIEWER_META: &str = "chat-viewer";

#[derive(Clone, Debug)]
pub struct Viewer(pub Option<Nick>);

impl Viewer {
    pub fn provide() {
        provide_context(Viewer(Self::read()));
    }

    #[cfg(feature = "ssr")]
    fn read() -> Option<Nick> {
        use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<SignedInAs>().cloned())
            .map(|s| s.0)
    }

    #[cfg(not(feature = "ssr"))]
    fn read() -> Option<Nick> {
        let meta = document()
            .query_selector(&format!("meta[name='{VIEWER_META}']"))
            .ok()
            .flatten()?;
        Nick::parse(&meta.get_attribute("content")?).ok()
    }

    pub fn from_context() -> Self {
        use_context().unwrap_or(Viewer(None))
    }

    /// The signed-in name, if any.
    pub fn name(&self) -> Option<&Nick> {
        self.0.as_ref()
    }
}

/// The `<meta>` that hands the signed-in name to the browser (server shell only).
// The shell's head renders before the app provides its context: read the
// request itself.
#[component]
pub fn ViewerMeta() -> impl IntoView {
    Viewer::read().map(|name| view! { <meta name=VIEWER_META content=name.to_string() /> })
}

/// "Signed in as NAME" with "Account" and "Log out", or for a guest the
/// links to sign up and log in.
///
/// One structure whoever reads it (the other half is `hidden`): the page
/// hydrates the same nodes either way, and the bundle carries one view.
#[component]
pub fn AccountLinks() -> impl IntoView {
    let name = Viewer::from_context().0;
    let guest = name.is_none();
    view! {
        <div class="account-links">
            <span hidden=guest>"Signed in as " <strong>{name.map(|n| n.to_string())}</strong></span>
            <a href=Route::Account.pattern() rel="external" hidden=guest>"Account"</a>
            <form method="post" action="/logout" hidden=guest>
                <button type="submit">"Log out"</button>
            </form>
            <a href=Route::SignUp.pattern() rel="external" hidden=!guest>"Sign up"</a>
            <a href=Route::LogIn.pattern() rel="external" hidden=!guest>"Log in"</a>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_letters_digits_and_a_few_marks() {
        assert_eq!(parse_username(" sadia ").unwrap().as_str(), "sadia");
        assert!(parse_username("Sádia.k_2-x").is_ok());
        for bad in ["s", "sa dia", "-sadia", "sadia!", "<b>", &"a".repeat(33)] {
            assert_eq!(parse_username(bad), Err(UsernameError::Rules), "{bad:?}");
        }
    }

    #[test]
    fn passwords_are_eight_to_a_hundred_and_twenty_eight_characters() {
        assert_eq!(check_password("seven77"), Err(PasswordError::TooShort));
        assert!(check_password("eight888").is_ok());
        assert!(check_password(&"é".repeat(128)).is_ok());
        assert_eq!(
            check_password(&"x".repeat(129)),
            Err(PasswordError::TooLong)
        );
    }
}
