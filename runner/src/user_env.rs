//! Environment variables a run's author asks for (a chat ```env block, the HTTP `env` object):
//! which names are allowed, and the caps on their count and size. Checked by the frontends for a
//! clear reply and again by the runner, so no path skips it.

/// Variables one run may set at most.
pub const MAX_VARS: usize = 64;
/// Bytes of all names and values together at most.
pub const MAX_BYTES: usize = 16 * 1024;

/// Why a requested environment is refused, in words for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("`{0}` is not an environment variable name: use letters, digits and `_`, not starting with a digit")]
    BadName(String),
    #[error("`{name}` cannot be set: {why}")]
    Refused { name: String, why: &'static str },
    #[error("the value of `{0}` contains a NUL byte; remove it")]
    NulValue(String),
    #[error("{0} environment variables given; at most {MAX_VARS} are allowed")]
    TooMany(usize),
    #[error("the environment variables take {0} bytes; at most {MAX_BYTES} are allowed")]
    TooLarge(usize),
    #[error("`{0}` is given twice; give each variable once")]
    Duplicate(String),
}

/// Why a name that changes how the interpreter or the loader behaves is refused, if it is one.
fn refused_because(name: &str) -> Option<&'static str> {
    if name.starts_with("LD_") {
        Some("LD_* variables change how programs are loaded")
    } else if name.starts_with("PYTHON") && name != "PYTHONHASHSEED" {
        Some("PYTHON* variables (except PYTHONHASHSEED) change how Python starts")
    } else if name == "NODE_OPTIONS" {
        Some("NODE_OPTIONS changes how node starts, including its memory cap")
    } else if name == "PATH" || name == "HOME" {
        Some("PATH and HOME are set by the sandbox")
    } else {
        None
    }
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Check a requested environment: names, refused names, NUL bytes, count and size.
pub fn check(vars: &[(String, String)]) -> Result<(), EnvError> {
    if vars.len() > MAX_VARS {
        return Err(EnvError::TooMany(vars.len()));
    }
    let bytes: usize = vars.iter().map(|(k, v)| k.len() + v.len()).sum();
    if bytes > MAX_BYTES {
        return Err(EnvError::TooLarge(bytes));
    }
    for (i, (name, value)) in vars.iter().enumerate() {
        if !is_name(name) {
            return Err(EnvError::BadName(name.clone()));
        }
        if let Some(why) = refused_because(name) {
            return Err(EnvError::Refused {
                name: name.clone(),
                why,
            });
        }
        if value.contains('\0') {
            return Err(EnvError::NulValue(name.clone()));
        }
        if vars[..i].iter().any(|(k, _)| k == name) {
            return Err(EnvError::Duplicate(name.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(k: &str, v: &str) -> Vec<(String, String)> {
        vec![(k.into(), v.into())]
    }

    #[test]
    fn names_and_refusals() {
        assert_eq!(check(&one("GREETING", "hi")), Ok(()));
        assert_eq!(check(&one("_x1", "")), Ok(()));
        assert_eq!(check(&one("PYTHONHASHSEED", "0")), Ok(()));
        for bad in ["1X", "A-B", "", "A B", "É"] {
            assert!(
                matches!(check(&one(bad, "v")), Err(EnvError::BadName(_))),
                "{bad}"
            );
        }
        for refused in [
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "PYTHONPATH",
            "PYTHONSTARTUP",
            "NODE_OPTIONS",
            "PATH",
            "HOME",
        ] {
            let e = check(&one(refused, "x")).expect_err(refused);
            assert!(matches!(e, EnvError::Refused { .. }), "{refused}");
            assert!(e.to_string().contains(refused), "{e}");
        }
        assert!(matches!(
            check(&one("A", "a\0b")),
            Err(EnvError::NulValue(_))
        ));
        let many: Vec<_> = (0..=MAX_VARS)
            .map(|i| (format!("V{i}"), String::new()))
            .collect();
        assert_eq!(check(&many), Err(EnvError::TooMany(MAX_VARS + 1)));
        assert!(matches!(
            check(&one("BIG", &"x".repeat(MAX_BYTES))),
            Err(EnvError::TooLarge(_))
        ));
        let twice = vec![("A".into(), "1".into()), ("A".into(), "2".into())];
        assert_eq!(check(&twice), Err(EnvError::Duplicate("A".into())));
    }
}
