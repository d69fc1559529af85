//! Message times. The server renders UTC (it cannot know the reader's zone);
//! once hydrated the browser re-renders them in local time. Both sides agree
//! on the machine-readable `datetime` attribute so hydration finds the same DOM.

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
    fn leap_days_are_counted() {
        // 2024-02-29 12:00:00 UTC
        assert_eq!(iso_utc(1_709_208_000_000), "2024-02-29T12:00:00Z");
    }
}
