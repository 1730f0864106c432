//! Parsing and printing of human-readable durations and sizes, edge cases included.

use std::time::Duration;

use coderunner_config::{ByteSize, HumanDuration, UnitError};
use proptest::prelude::*;

fn ms(s: &str) -> Result<u128, UnitError> {
    s.parse::<HumanDuration>()
        .map(|d| d.as_duration().as_millis())
}

fn bytes(s: &str) -> Result<u64, UnitError> {
    s.parse::<ByteSize>().map(ByteSize::bytes)
}

#[test]
fn durations_in_every_unit() {
    assert_eq!(ms("250ms"), Ok(250));
    assert_eq!(ms("10s"), Ok(10_000));
    assert_eq!(ms("10sec"), Ok(10_000));
    assert_eq!(ms("90 secs"), Ok(90_000));
    assert_eq!(ms("2m"), Ok(120_000));
    assert_eq!(ms("2min"), Ok(120_000));
    assert_eq!(ms("1h"), Ok(3_600_000));
    assert_eq!(ms("30d"), Ok(30 * 86_400_000));
    assert_eq!(ms("1.5m"), Ok(90_000));
    assert_eq!(ms("0.25s"), Ok(250));
    assert_eq!(ms("1m30s"), Ok(90_000));
    assert_eq!(ms("1h 30m"), Ok(5_400_000));
    assert_eq!(ms("1d2h3m4s5ms"), Ok(93_784_005));
    assert_eq!(ms("  10s  "), Ok(10_000));
    // A bare number is seconds.
    assert_eq!(ms("10"), Ok(10_000));
    assert_eq!(ms("0"), Ok(0));
    assert_eq!(ms("0s"), Ok(0));
}

#[test]
fn bad_durations_are_refused_with_the_reason() {
    for s in [
        "",
        " ",
        "s",
        "10x",
        "10 S",
        "1e3s",
        "1.2.3s",
        "ten seconds",
        "10s5",
        "10 20",
        "30s1m",
        "1s1s",
        "1m1h",
        "+5s",
        ".s",
        "10ms5s",
        "inf",
        "NaN",
    ] {
        assert!(
            matches!(ms(s), Err(UnitError::BadDuration(_))),
            "`{s}` should be a BadDuration, got {:?}",
            ms(s)
        );
    }
    assert!(matches!(ms("-5s"), Err(UnitError::Negative(_))));
    assert!(matches!(ms(" -1m"), Err(UnitError::Negative(_))));
    assert!(matches!(ms("99999999999999d"), Err(UnitError::Overflow(_))));
    let msg = ms("10 parsecs").map_err(|e| e.to_string()).err();
    assert_eq!(
        msg.as_deref(),
        Some("`10 parsecs` is not a duration; write a number with a unit, e.g. `500ms`, `10s`, `2m`, `1h`, `1d`")
    );
}

#[test]
fn durations_print_exactly() {
    let show = |ms: u64| HumanDuration(Duration::from_millis(ms)).to_string();
    assert_eq!(show(0), "0s");
    assert_eq!(show(250), "250ms");
    assert_eq!(show(10_000), "10s");
    assert_eq!(show(90_000), "1m30s");
    assert_eq!(show(1_234), "1s234ms");
    assert_eq!(show(86_400_000), "1d");
    assert_eq!(show(93_784_005), "1d2h3m4s5ms");
}

#[test]
fn sizes_in_every_unit() {
    assert_eq!(bytes("512"), Ok(512));
    assert_eq!(bytes("512B"), Ok(512));
    assert_eq!(bytes("64KiB"), Ok(65_536));
    assert_eq!(bytes("64kib"), Ok(65_536));
    assert_eq!(bytes("256MiB"), Ok(268_435_456));
    assert_eq!(bytes("256 MiB"), Ok(268_435_456));
    assert_eq!(bytes("1GiB"), Ok(1 << 30));
    assert_eq!(bytes("2TiB"), Ok(2 << 40));
    assert_eq!(bytes("1KB"), Ok(1_000));
    assert_eq!(bytes("1k"), Ok(1_000));
    assert_eq!(bytes("1MB"), Ok(1_000_000));
    assert_eq!(bytes("1GB"), Ok(1_000_000_000));
    assert_eq!(bytes("1.5KiB"), Ok(1_536));
    assert_eq!(bytes("0.5MiB"), Ok(524_288));
    assert_eq!(bytes("0"), Ok(0));
    // Whole numbers stay exact up to the top of u64.
    assert_eq!(bytes("18446744073709551615"), Ok(u64::MAX));
    assert_eq!(bytes("16777215TiB"), Ok(16_777_215u64 << 40));
}

#[test]
fn bad_sizes_are_refused_with_the_reason() {
    for s in [
        "", "MiB", "12XB", "1e6", "1.5", "1.5B", "1.2.3MiB", "lots", "10 M iB", ".MiB",
    ] {
        assert!(
            matches!(bytes(s), Err(UnitError::BadSize(_))),
            "`{s}` should be a BadSize, got {:?}",
            bytes(s)
        );
    }
    assert!(matches!(bytes("-1MiB"), Err(UnitError::Negative(_))));
    assert!(matches!(
        bytes("18446744073709551616"),
        Err(UnitError::BadSize(_)) | Err(UnitError::Overflow(_))
    ));
    assert!(matches!(bytes("16777216TiB"), Err(UnitError::Overflow(_))));
    assert!(matches!(
        bytes("99999999999999999999GiB"),
        Err(UnitError::Overflow(_))
    ));
}

#[test]
fn sizes_print_exactly() {
    assert_eq!(ByteSize(0).to_string(), "0B");
    assert_eq!(ByteSize(1000).to_string(), "1000B");
    assert_eq!(ByteSize(1024).to_string(), "1KiB");
    assert_eq!(ByteSize::mib(256).to_string(), "256MiB");
    assert_eq!(ByteSize(1_536).to_string(), "1536B");
    assert_eq!(ByteSize(3 << 19).to_string(), "1536KiB");
    assert_eq!(ByteSize((1 << 20) + 1).to_string(), "1048577B");
}

#[test]
fn yaml_numbers_and_strings_deserialize() {
    #[derive(serde::Deserialize)]
    struct T {
        d: HumanDuration,
        s: ByteSize,
    }
    let t: T = serde_norway::from_str("d: 1.5\ns: 1024\n").expect("numbers");
    assert_eq!((t.d.as_duration().as_millis(), t.s.bytes()), (1_500, 1_024));
    let t: T = serde_norway::from_str("d: 2m\ns: 1KiB\n").expect("strings");
    assert_eq!(
        (t.d.as_duration().as_millis(), t.s.bytes()),
        (120_000, 1_024)
    );
    for bad in ["d: -3\ns: 1\n", "d: 1\ns: -3\n", "d: -0.5\ns: 1\n"] {
        let err = serde_norway::from_str::<T>(bad)
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref().is_some_and(|e| e.contains("negative")),
            "{bad}: {err:?}"
        );
    }
}

proptest! {
    #[test]
    fn durations_round_trip(ms in 0u64..1_000_000_000_000_000) {
        let d = HumanDuration(Duration::from_millis(ms));
        let back: HumanDuration = d.to_string().parse().expect("printed duration parses");
        prop_assert_eq!(back, d);
    }

    #[test]
    fn sizes_round_trip(n in any::<u64>()) {
        let s = ByteSize(n);
        let back: ByteSize = s.to_string().parse().expect("printed size parses");
        prop_assert_eq!(back, s);
    }

    #[test]
    fn garbage_never_panics(s in ".{0,24}") {
        let _ = s.parse::<HumanDuration>();
        let _ = s.parse::<ByteSize>();
    }
}
