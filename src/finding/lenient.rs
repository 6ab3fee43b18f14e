//! Lenient field deserializers: AWS and hand-written samples send numbers as strings, booleans as
//! strings and timestamps in several formats. `null` or a missing field is always `None`.

use std::fmt;

use serde::Deserializer;
use serde::de::{self, IgnoredAny, Visitor};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// A string; numbers and booleans are kept as their text.
pub(crate) fn opt_string<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: for<'a> From<&'a str> + From<String>,
{
    d.deserialize_any(StringVisitor::<T> {
        loose: false,
        out: std::marker::PhantomData,
    })
}

/// A string, or nothing if the value is of another type (for fields whose type AWS changed over
/// time and that no accessor depends on strictly).
pub(crate) fn opt_string_loose<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: for<'a> From<&'a str> + From<String>,
{
    d.deserialize_any(StringVisitor::<T> {
        loose: true,
        out: std::marker::PhantomData,
    })
}

/// An identifier (a user name, a key id, an instance id, an account): a string and nothing else;
/// a number is an error, not a user named `7`.
pub(crate) fn opt_id<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: for<'a> From<&'a str> + From<String>,
{
    struct Id<T>(std::marker::PhantomData<T>);
    impl<'de, T: for<'a> From<&'a str> + From<String>> Visitor<'de> for Id<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an identifier string")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(T::from(v)))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(T::from(v)))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }
    }
    d.deserialize_any(Id(std::marker::PhantomData))
}

/// Reads a string, keeping numbers and booleans as their text; with `loose`, an object or an
/// array is skipped and read as nothing instead of being an error.
struct StringVisitor<T> {
    loose: bool,
    out: std::marker::PhantomData<T>,
}

impl<'de, T: for<'a> From<&'a str> + From<String>> Visitor<'de> for StringVisitor<T> {
    type Value = Option<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.loose { "any value" } else { "a string" })
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(T::from(v)))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(T::from(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(T::from(v.to_string())))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(T::from(v.to_string())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(T::from(v.to_string())))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(T::from(v.to_string())))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
        d.deserialize_any(self)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if !self.loose {
            return Err(de::Error::invalid_type(de::Unexpected::Map, &self));
        }
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        if !self.loose {
            return Err(de::Error::invalid_type(de::Unexpected::Seq, &self));
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// A list; `null` is an empty list.
pub(crate) fn vec_or_null<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    Ok(<Option<Vec<T>> as serde::Deserialize>::deserialize(d)?.unwrap_or_default())
}

/// A non-negative integer; also from an integral float or a numeric string.
pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a non-negative integer")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            u64::try_from(v)
                .map(Some)
                .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 1.8e19 {
                #[expect(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "checked integral and in range"
                )]
                Ok(Some(v as u64))
            } else {
                Err(E::invalid_value(de::Unexpected::Float(v), &self))
            }
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let t = v.trim();
            if t.is_empty() {
                return Ok(None);
            }
            t.parse::<u64>()
                .map(Some)
                .or_else(|_| match t.parse::<f64>() {
                    Ok(f) => self.visit_f64(f),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                })
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }
    }
    d.deserialize_any(V)
}

/// A boolean; also from `"true"`/`"false"` (any case).
pub(crate) fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<bool>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a boolean")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            match v.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                "" => Ok(None),
                _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
            }
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }
    }
    d.deserialize_any(V)
}

/// A point in time: RFC 3339 (`2018-12-12T21:16:27.012Z`, `...Z`, `+01:00`), `+0000` offsets,
/// `2025-02-25 20:40:06.721` (UTC assumed), epoch seconds or milliseconds (number or string).
/// Redacted values (`XXXX-XX-XXTXX:XX:XXZ`) and empty strings are `None`.
pub(crate) fn opt_time<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<OffsetDateTime>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<OffsetDateTime>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a timestamp (RFC 3339 or epoch seconds or milliseconds)")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            #[expect(clippy::cast_precision_loss, reason = "timestamps are far below 2^53")]
            self.visit_f64(v as f64)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            #[expect(clippy::cast_precision_loss, reason = "timestamps are far below 2^53")]
            self.visit_f64(v as f64)
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            from_epoch(v)
                .map(Some)
                .ok_or_else(|| E::invalid_value(de::Unexpected::Float(v), &self))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            parse_time(v).map_err(|()| E::invalid_value(de::Unexpected::Str(v), &self))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }
    }
    d.deserialize_any(V)
}

/// A timestamp string as [`opt_time`] reads it, or `None` for anything else (the EventBridge
/// envelope's `time`, which remedy only reports).
pub(crate) fn opt_time_loose<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<OffsetDateTime>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<OffsetDateTime>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any value")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(parse_time(v).ok().flatten())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(parse_time(&v.to_string()).ok().flatten())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(parse_time(&v.to_string()).ok().flatten())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(parse_time(&v.to_string()).ok().flatten())
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

/// Epoch seconds, or milliseconds when the number is too large to be seconds (after year 5138).
fn from_epoch(v: f64) -> Option<OffsetDateTime> {
    if !v.is_finite() {
        return None;
    }
    let seconds = if v.abs() >= 1e11 { v / 1000.0 } else { v };
    #[expect(clippy::cast_possible_truncation, reason = "range checked by time")]
    let nanos = (seconds * 1e9).round() as i128;
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// Parses the timestamp formats seen in GuardDuty findings; `Ok(None)` for redacted or empty.
pub(crate) fn parse_time(v: &str) -> Result<Option<OffsetDateTime>, ()> {
    let t = v.trim();
    // A redacted value never passes the fast path (it wants digits), so test for it after.
    if let Some(ts) = utc_fast(t.as_bytes()) {
        return Ok(Some(ts));
    }
    if t.is_empty() || is_redacted(t) {
        return Ok(None);
    }
    if let Ok(ts) = OffsetDateTime::parse(t, &Rfc3339) {
        return Ok(Some(ts));
    }
    // Epoch seconds or milliseconds as a string (`"1544649387012"`, `"-5"`), not a date.
    let numeric = t
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
        && !t.get(1..).unwrap_or("").contains('-');
    if numeric && let Ok(n) = t.parse::<f64>() {
        return from_epoch(n).map(Some).ok_or(());
    }
    // `2017-11-01T21:31:05.542+0000`
    let with_offset = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]][offset_hour sign:mandatory][offset_minute]"
    );
    if let Ok(ts) = OffsetDateTime::parse(t, &with_offset) {
        return Ok(Some(ts));
    }
    // `2025-02-25 20:40:06.721` or `2025-02-25T20:40:06` without an offset: UTC.
    let naive = format_description!(
        "[year]-[month]-[day][first [T][ ]][hour]:[minute]:[second][optional [.[subsecond]]][optional [Z]]"
    );
    if let Ok(ts) = time::PrimitiveDateTime::parse(t, &naive) {
        return Ok(Some(ts.assume_utc()));
    }
    Err(())
}

/// The common case, `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, without the general parser. `None` for
/// anything else (the general parsers decide), including leap seconds.
fn utc_fast(b: &[u8]) -> Option<OffsetDateTime> {
    fn num(b: &[u8]) -> Option<u32> {
        b.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    }
    let (head, rest) = b.split_at_checked(19)?;
    let [
        y0,
        y1,
        y2,
        y3,
        b'-',
        m0,
        m1,
        b'-',
        d0,
        d1,
        b'T',
        h0,
        h1,
        b':',
        i0,
        i1,
        b':',
        s0,
        s1,
    ] = *head
    else {
        return None;
    };
    let [frac @ .., b'Z'] = rest else {
        return None;
    };
    let nanos = match frac {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            num(digits)? * 10u32.pow(9 - u32::try_from(digits.len()).ok()?)
        }
        _ => return None,
    };
    let year = i32::try_from(num(&[y0, y1, y2, y3])?).ok()?;
    let month = time::Month::try_from(u8::try_from(num(&[m0, m1])?).ok()?).ok()?;
    let day = u8::try_from(num(&[d0, d1])?).ok()?;
    let hour = u8::try_from(num(&[h0, h1])?).ok()?;
    let minute = u8::try_from(num(&[i0, i1])?).ok()?;
    let second = u8::try_from(num(&[s0, s1])?).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let time = time::Time::from_hms_nano(hour, minute, second, nanos).ok()?;
    Some(time::PrimitiveDateTime::new(date, time).assume_utc())
}

/// Authors redact timestamps as `XXXX-XX-XXTXX:XX:XXZ`: only placeholders and separators.
fn is_redacted(t: &str) -> bool {
    t.contains(['X', 'x'])
        && t.bytes().all(|b| {
            matches!(
                b,
                b'X' | b'x' | b'-' | b':' | b'T' | b'Z' | b'.' | b' ' | b'+'
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Option<OffsetDateTime> {
        parse_time(s).unwrap()
    }

    #[test]
    fn timestamp_formats() {
        let a = t("2018-12-12T21:16:27.012Z").unwrap();
        assert_eq!(a.unix_timestamp(), 1_544_649_387);
        assert_eq!(a.millisecond(), 12);
        assert_eq!(
            t("2018-12-12T21:16:27Z").unwrap().unix_timestamp(),
            1_544_649_387
        );
        assert_eq!(
            t("2018-12-12T22:16:27+01:00").unwrap().unix_timestamp(),
            1_544_649_387
        );
        assert_eq!(
            t("2018-12-12T21:16:27.012+0000").unwrap().unix_timestamp(),
            1_544_649_387
        );
        assert_eq!(
            t("2018-12-12 21:16:27.012").unwrap().unix_timestamp(),
            1_544_649_387
        );
        assert_eq!(t("1544649387012").unwrap().unix_timestamp(), 1_544_649_387);
        assert_eq!(t("1544649387").unwrap().unix_timestamp(), 1_544_649_387);
        assert_eq!(t("XXXX-XX-XXTXX:XX:XXZ"), None);
        assert_eq!(t(""), None);
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("2018-13-12T21:16:27Z").is_err());
    }

    #[test]
    fn fast_path_agrees_with_rfc3339() {
        for s in [
            "2018-12-12T21:16:27.012Z",
            "2018-12-12T21:16:27Z",
            "2024-02-29T23:59:59.123456789Z",
            "2024-06-11T09:14:02.0Z",
            "0001-01-01T00:00:00Z",
        ] {
            assert_eq!(
                utc_fast(s.as_bytes()),
                OffsetDateTime::parse(s, &Rfc3339).ok(),
                "{s}"
            );
        }
        for s in [
            "2023-02-29T00:00:00Z",
            "2018-12-12T24:00:00Z",
            "2018-12-12T21:16:60Z",
            "2018-12-12T21:16:27.Z",
            "2018-12-12T21:16:27.0123456789Z",
            "2018-12-12t21:16:27Z",
            "2018-12-12T21:16:27+00:00",
            "2018-12-12T21:16:27",
            "2018-1a-12T21:16:27Z",
            "+018-12-12T21:16:27Z",
        ] {
            assert_eq!(utc_fast(s.as_bytes()), None, "{s}");
        }
        assert!(t("2018-12-12t21:16:27z").is_some());
    }

    #[test]
    fn epoch_numbers() {
        assert_eq!(
            from_epoch(1_481_719_450_000.0).unwrap().unix_timestamp(),
            1_481_719_450
        );
        assert_eq!(
            from_epoch(1_646_144_449.0).unwrap().unix_timestamp(),
            1_646_144_449
        );
        assert!(from_epoch(f64::INFINITY).is_none());
    }
}
