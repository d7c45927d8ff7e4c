//! Timestamps as the store keeps them: unix seconds.

/// Unix seconds as RFC 3339 in UTC (`2026-11-22T14:03:07Z`), clamped to what the format
/// can show (a rule may expire after the year 9999).
pub fn rfc3339_seconds(secs: i64) -> String {
    let secs = u64::try_from(secs).unwrap_or(0).min(253_402_300_799);
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .to_string()
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod time_tests {
    use super::rfc3339_seconds;

    #[test]
    fn times_past_the_year_9999_are_clamped_not_a_panic() {
        assert_eq!(rfc3339_seconds(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_seconds(-5), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_seconds(i64::MAX), "9999-12-31T23:59:59Z");
    }
}
