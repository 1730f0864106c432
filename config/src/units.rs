//! Human-readable durations (`10s`, `1m30s`, `250ms`) and sizes (`256MiB`, `1GB`, `512`) for the config.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// Why a duration or size string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("`{0}` is not a duration; write a number with a unit, e.g. `500ms`, `10s`, `2m`, `1h`, `1d`")]
    BadDuration(String),
    #[error("`{0}` is not a size; write a number with a unit, e.g. `512KiB`, `256MiB`, `1GiB` (or plain bytes)")]
    BadSize(String),
    #[error("`{0}` is too large")]
    Overflow(String),
    #[error("`{0}` is negative; durations and sizes must be zero or more, e.g. `10s`, `256MiB`")]
    Negative(String),
}

/// A span of time written as `10s`, `1m`, `1m30s`, `250ms`, `1h`, `2d`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    pub const fn from_secs(s: u64) -> Self {
        Self(Duration::from_secs(s))
    }
    pub const fn from_millis(ms: u64) -> Self {
        Self(Duration::from_millis(ms))
    }
    pub fn as_duration(self) -> Duration {
        self.0
    }
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

impl From<Duration> for HumanDuration {
    fn from(d: Duration) -> Self {
        Self(d)
    }
}

/// Longest duration accepted (about 31,000 years): keeps every sum and conversion exact.
const MAX_DURATION_MS: f64 = 1e15;

/// Duration units, largest first, in milliseconds.
const DURATION_UNITS: [(&str, u64); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

impl FromStr for HumanDuration {
    type Err = UnitError;

    /// Accepts `10s`, `1.5m`, `1h30m`, `2d`, `250ms`, `10 s`, `90 secs` and a bare number of
    /// seconds (`10`). In a compound each unit appears once, largest first (`1m30s`, not `30s1m`).
    /// Resolution is one millisecond.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let s = input.trim();
        let bad = || UnitError::BadDuration(input.to_string());
        if s.starts_with('-') {
            return Err(UnitError::Negative(input.to_string()));
        }
        if s.is_empty() {
            return Err(bad());
        }
        let mut total_ms: u128 = 0;
        let mut rest = s;
        let mut previous_factor = u64::MAX;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err(bad());
            }
            let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = rest[digits..].trim_start();
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.' || c.is_whitespace())
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = rest[unit_len..].trim_start();
            let factor_ms: u64 = match unit {
                "ms" => 1,
                "s" | "sec" | "secs" => 1_000,
                "m" | "min" | "mins" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                // A bare number is seconds only when it is the whole string.
                "" if rest.is_empty() && previous_factor == u64::MAX => 1_000,
                _ => return Err(bad()),
            };
            if factor_ms >= previous_factor {
                return Err(bad());
            }
            previous_factor = factor_ms;
            let ms = number * factor_ms as f64;
            if !ms.is_finite() || ms > MAX_DURATION_MS {
                return Err(UnitError::Overflow(input.to_string()));
            }
            total_ms += ms.round() as u128;
        }
        let ms = u64::try_from(total_ms).map_err(|_| UnitError::Overflow(input.to_string()))?;
        Ok(Self(Duration::from_millis(ms)))
    }
}

impl fmt::Display for HumanDuration {
    /// The exact value in the fewest units, largest first (`1m30s`, `1s250ms`), so that
    /// printing and parsing again gives the same duration.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        for (name, size) in DURATION_UNITS {
            let size = u128::from(size);
            if ms >= size {
                write!(f, "{}{name}", ms / size)?;
                ms %= size;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DurationVisitor)
    }
}

struct DurationVisitor;

impl de::Visitor<'_> for DurationVisitor {
    type Value = HumanDuration;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as `10s`, `1m` or `250ms`")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        v.parse().map_err(E::custom)
    }
    /// A bare number is seconds, like the bare-number string form.
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.visit_f64(v as f64)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.visit_f64(v as f64)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if v < 0.0 {
            return Err(E::custom(UnitError::Negative(v.to_string())));
        }
        let ms = v * 1000.0;
        if !ms.is_finite() || ms > MAX_DURATION_MS {
            return Err(E::custom(UnitError::Overflow(v.to_string())));
        }
        Ok(HumanDuration(Duration::from_millis(ms.round() as u64)))
    }
}

/// A number of bytes written as `256MiB`, `1GiB`, `64KB`, `100` (bytes).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub const fn kib(n: u64) -> Self {
        Self(n * 1024)
    }
    pub const fn mib(n: u64) -> Self {
        Self(n * 1024 * 1024)
    }
    pub const fn gib(n: u64) -> Self {
        Self(n * 1024 * 1024 * 1024)
    }
    pub const fn bytes(self) -> u64 {
        self.0
    }
    pub fn as_mib(self) -> u64 {
        self.0 / (1024 * 1024)
    }
}

/// Binary size units, largest first.
const SIZE_UNITS: [(&str, u64); 4] = [
    ("TiB", 1 << 40),
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
];

impl FromStr for ByteSize {
    type Err = UnitError;

    /// Accepts `512`, `512B`, `64KiB`, `1.5GiB`, `256 MiB`, `1GB` (powers of ten for KB/MB/GB/TB
    /// and K/M/G/T), case-insensitively. Whole numbers are exact; fractions round to a byte, and
    /// a fraction of a plain byte is refused.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let s = input.trim();
        let bad = || UnitError::BadSize(input.to_string());
        if s.starts_with('-') {
            return Err(UnitError::Negative(input.to_string()));
        }
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        if split == 0 {
            return Err(bad());
        }
        let digits = &s[..split];
        let unit = s[split..].trim();
        let factor: u64 = match unit.to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" => 1_000,
            "kib" => 1 << 10,
            "m" | "mb" => 1_000_000,
            "mib" => 1 << 20,
            "g" | "gb" => 1_000_000_000,
            "gib" => 1 << 30,
            "t" | "tb" => 1_000_000_000_000,
            "tib" => 1 << 40,
            _ => return Err(bad()),
        };
        let overflow = || UnitError::Overflow(input.to_string());
        if let Ok(whole) = digits.parse::<u64>() {
            return whole.checked_mul(factor).map(Self).ok_or_else(overflow);
        }
        if factor == 1 {
            // `1.5` bytes: there are no half bytes.
            return Err(bad());
        }
        let number: f64 = digits.parse().map_err(|_| bad())?;
        let bytes = number * factor as f64;
        if !bytes.is_finite() || bytes >= u64::MAX as f64 {
            return Err(overflow());
        }
        Ok(Self(bytes.round() as u64))
    }
}

impl fmt::Display for ByteSize {
    /// The exact value in the largest binary unit that divides it (`256MiB`, `1536KiB`, `1000B`),
    /// so that printing and parsing again gives the same size.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, size) in SIZE_UNITS {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{}{name}", self.0 / size);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl fmt::Debug for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SizeVisitor)
    }
}

struct SizeVisitor;

impl de::Visitor<'_> for SizeVisitor {
    type Value = ByteSize;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a size such as `256MiB`, `1GiB` or a number of bytes")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        v.parse().map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(ByteSize(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        u64::try_from(v)
            .map(ByteSize)
            .map_err(|_| E::custom(UnitError::Negative(v.to_string())))
    }
}
