//! Message times. The server renders UTC (it cannot know the reader's zone);
//! once hydrated the browser re-renders them in local time, relative to now
//! ("5 min ago"). Both sides agree on the machine-readable `datetime`
//! attribute so hydration finds the same DOM.
//!
//! Also the two clock contexts the views read, [`Hydrated`] and [`Now`].

use crate::erased::Slot;
use crate::erased::effect;
use leptos::prelude::*;

const DAY_MS: i64 = 86_400_000;
const WEEKDAYS: [&str; 7] = [
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Days since 1970-01-01 to a civil (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `2026-11-25T20:05:00Z` for a `<time datetime>` attribute.
pub fn iso_utc(at_ms: i64) -> String {
    let secs = at_ms.div_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// `20:05` in UTC, what the server-rendered page shows.
pub fn hhmm_utc(at_ms: i64) -> String {
    let s = at_ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}", s / 3600, s / 60 % 60)
}

/// `20:05` in the browser's own time zone.
#[cfg(feature = "hydrate")]
pub fn hhmm_local(at_ms: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at_ms as f64));
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}

/// Milliseconds since the epoch, as the browser's clock says (0 on the server).
pub fn now_ms() -> i64 {
    #[cfg(feature = "hydrate")]
    return js_sys::Date::now() as i64;
    #[cfg(not(feature = "hydrate"))]
    0
}

/// How far the browser's zone is ahead of UTC at `at_ms` (0 on the server and
/// before hydration, so both render the same).
pub fn zone_offset_ms(at_ms: i64, local: bool) -> i64 {
    #[cfg(feature = "hydrate")]
    if local {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at_ms as f64));
        return -(date.get_timezone_offset() as i64) * 60_000;
    }
    let _ = (at_ms, local);
    0
}

/// The calendar day `at_ms` falls on, as a day count, in the given offset.
pub fn day_number(at_ms: i64, offset_ms: i64) -> i64 {
    (at_ms + offset_ms).div_euclid(DAY_MS)
}

/// A day separator's text: "Today", "Yesterday" (only when `today` is known)
/// or "Wednesday 25 November 2026".
pub fn day_label(day: i64, today: Option<i64>) -> String {
    match today {
        Some(t) if t == day => return "Today".into(),
        Some(t) if t == day + 1 => return "Yesterday".into(),
        _ => {}
    }
    let (y, m, d) = civil_from_days(day);
    format!(
        "{} {d} {} {y}",
        WEEKDAYS[day.rem_euclid(7) as usize],
        MONTHS[m as usize - 1]
    )
}

/// `20:05` in the given offset.
pub fn hhmm(at_ms: i64, offset_ms: i64) -> String {
    hhmm_utc(at_ms + offset_ms)
}

/// The exact moment, shown on hover: "Wednesday 25 November 2026, 20:05:48".
pub fn exact(at_ms: i64, offset_ms: i64) -> String {
    let shifted = at_ms + offset_ms;
    let s = shifted.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{}, {:02}:{:02}:{:02}",
        day_label(day_number(at_ms, offset_ms), None),
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// "just now", "5 min ago", "3 h ago"; older than a day (or a clock that
/// runs behind) gets the clock time, as the day separator says which day.
pub fn relative(at_ms: i64, now_ms: i64, offset_ms: i64) -> String {
    let ago = now_ms - at_ms;
    match ago {
        -60_000..60_000 => "just now".into(),
        60_000..3_600_000 => format!("{} min ago", ago / 60_000),
        3_600_000..DAY_MS => format!("{} h ago", ago / 3_600_000),
        _ => hhmm(at_ms, offset_ms),
    }
}

/// Flips to true once the browser has taken over the server-rendered page, so
/// views can switch to browser-only formatting (local time) without breaking
/// hydration.
#[derive(Clone, Copy)]
pub struct Hydrated(pub Slot<bool>);

/// The browser's clock, ticking every half minute, for relative times.
#[derive(Clone, Copy)]
pub struct Now(pub Slot<i64>);

/// Puts [`Hydrated`] and [`Now`] in context; both start as the server sees
/// them (not hydrated, time 0) so the first render matches the server's.
pub fn provide() {
    let hydrated = Slot::new(false);
    provide_context(Hydrated(hydrated));
    let now = Slot::new(0);
    provide_context(Now(now));
    effect(move || {
        hydrated.set(true);
        now.set(now_ms());
        // Relative times ("5 min ago") move on by themselves.
        let _ = set_interval_with_handle(
            move || now.set(now_ms()),
            std::time::Duration::from_secs(30),
        );
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_is_midnight_of_new_year_1970() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn a_known_moment_formats_in_utc() {
        // 2026-11-25 20:05:48 UTC
        assert_eq!(iso_utc(1_795_637_148_000), "2026-11-25T20:05:48Z");
        assert_eq!(hhmm_utc(1_795_637_148_000), "20:05");
    }

    #[test]
    fn days_are_labelled_today_yesterday_or_by_date() {
        let at = 1_795_637_148_000; // Wednesday 25 November 2026, 20:05:48 UTC
        let day = day_number(at, 0);
        assert_eq!(day_label(day, Some(day)), "Today");
        assert_eq!(day_label(day, Some(day + 1)), "Yesterday");
        assert_eq!(day_label(day, Some(day + 2)), "Wednesday 25 November 2026");
        assert_eq!(day_label(day, None), "Wednesday 25 November 2026");
        assert_eq!(exact(at, 0), "Wednesday 25 November 2026, 20:05:48");
        // Four hours ahead, it is already Thursday.
        assert_eq!(
            exact(at, 4 * 3_600_000),
            "Thursday 26 November 2026, 00:05:48"
        );
    }

    #[test]
    fn recent_times_are_relative() {
        let at = 1_795_637_148_000;
        assert_eq!(relative(at, at + 5_000, 0), "just now");
        assert_eq!(relative(at, at + 5 * 60_000 + 1, 0), "5 min ago");
        assert_eq!(relative(at, at + 3 * 3_600_000, 0), "3 h ago");
        assert_eq!(relative(at, at + 2 * 86_400_000, 0), "20:05");
    }

    #[test]
    fn leap_days_are_counted() {
        // 2024-02-29 12:00:00 UTC
        assert_eq!(iso_utc(1_709_208_000_000), "2024-02-29T12:00:00Z");
    }
}
