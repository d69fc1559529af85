//! An account's devices: the browsers it reads encrypted conversations in,
//! as the account page lists them, and taking one away (a lost laptop, a
//! browser left signed in somewhere). A removed device gets no key of any
//! epoch after it, its conversations start a new epoch with their next
//! message, and the session that last used it is logged out, its sockets
//! closed on every server (docs/SECURITY.md, "Removing a device").

use super::{AccountError, Accounts, SignedIn};
use crate::bus::Ended;
use crate::store::{AccountDevice, DeviceUse};
use app::e2e::{DeviceId, DeviceKeys};
use app::people::Nick;
use axum::http::{HeaderMap, header};

/// What a signed-in request's device would be known by.
pub fn device_use(signed_in: &SignedIn, headers: &HeaderMap) -> DeviceUse {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    DeviceUse {
        browser: browser_label(agent),
        session: Some(signed_in.token_hash.clone()),
    }
}

/// "Firefox on Windows": enough for a person to tell their browsers apart,
/// from the `User-Agent` header (which the browser may say anything in, so
/// it is only ever a label; nothing is decided by it). Order matters: Edge
/// and Opera say "Chrome" too, Chrome says "Safari", Android says "Linux".
fn browser_label(agent: &str) -> String {
    const BROWSERS: [(&str, &str); 6] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
    ];
    const SYSTEMS: [(&str, &str); 7] = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ];
    let find = |table: &[(&str, &'static str)]| {
        table
            .iter()
            .find(|(mark, _)| agent.contains(mark))
            .map(|(_, name)| *name)
    };
    match (find(&BROWSERS), find(&SYSTEMS)) {
        (Some(browser), Some(system)) => format!("{browser} on {system}"),
        (Some(browser), None) => browser.to_owned(),
        (None, Some(system)) => format!("A browser on {system}"),
        (None, None) => "A browser".to_owned(),
    }
}

/// Whether `keys` is a device record `account` could have made: its
/// signature verifies under its own signing key over what it covers
/// ([`DeviceKeys::signed_bytes`]), and its key agreement key is a point on
/// P-256. The browsers check the same before wrapping a key for it; checked
/// here too, a bad record never reaches the store, where it would stop every
/// new epoch of its account's conversations (none could be wrapped for
/// every member device).
pub fn genuine(account: &Nick, keys: &DeviceKeys) -> bool {
    use base64::Engine as _;
    use p256::ecdsa::signature::Verifier as _;
    let decode = |part: &str| base64::engine::general_purpose::STANDARD.decode(part).ok();
    let (Some(agree), Some(sign), Some(signature)) = (
        decode(&keys.agree),
        decode(&keys.sign),
        decode(&keys.signature),
    ) else {
        return false;
    };
    let (Ok(_), Ok(signer), Ok(signature)) = (
        p256::PublicKey::from_sec1_bytes(&agree),
        p256::ecdsa::VerifyingKey::from_sec1_bytes(&sign),
        p256::ecdsa::Signature::from_slice(&signature),
    ) else {
        return false;
    };
    let signed = DeviceKeys::signed_bytes(account.as_str(), &keys.id, &keys.agree);
    signer.verify(&signed, &signature).is_ok()
}

/// What removing a device did to the session asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceRemoved {
    /// Another session's device: this one goes on.
    Other,
    /// The device of the very session asking: it is logged out.
    ThisSession,
}

impl Accounts {
    /// The signed-in person's devices, the newest first.
    pub async fn devices(&self, signed_in: &SignedIn) -> Result<Vec<AccountDevice>, AccountError> {
        Ok(self.store.account_devices(signed_in.account_id).await?)
    }

    /// Takes `device` away from the signed-in person (see the module's
    /// overview). Budgeted like an owner's room changes: each one is told
    /// to every server and may close sockets.
    pub async fn remove_device(
        &self,
        ip: std::net::IpAddr,
        signed_in: &SignedIn,
        device: &str,
    ) -> Result<DeviceRemoved, AccountError> {
        self.room_change(ip, signed_in)?;
        let device = DeviceId::parse(device).ok_or(AccountError::NoSuchDevice)?;
        let account = signed_in.account_id;
        let removed = self
            .store
            .remove_device(account, &device)
            .await?
            .ok_or(AccountError::NoSuchDevice)?;
        tracing::info!(account, device = %device.as_str(), "device removed");
        // Its other devices fetch the keys again, and the next message in
        // each conversation makes an epoch this device is left out of.
        for room in &removed.rooms {
            self.keys_changed(room, account);
        }
        let Some(session) = removed.session else {
            return Ok(DeviceRemoved::Other);
        };
        self.store.delete_session(&session).await?;
        let this_session = session == signed_in.token_hash;
        self.end_sockets(account, Ended::Session(session));
        Ok(if this_session {
            DeviceRemoved::ThisSession
        } else {
            DeviceRemoved::Other
        })
    }
}

#[cfg(test)]
mod tests {
    use super::browser_label;

    #[test]
    fn a_device_is_labelled_by_its_browser_and_system() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
                "Chrome on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox on Windows",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                "Safari on iOS",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            ("curl/8.5.0", "A browser"),
            ("", "A browser"),
        ];
        for (agent, label) in cases {
            assert_eq!(browser_label(agent), label, "{agent}");
        }
    }
}
