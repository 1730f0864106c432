//! Lookups every part uses: languages by name, alias or file extension, "did you mean", tiers,
//! profiles and paths under `data_dir`.

use std::path::{Path, PathBuf};

use crate::schema::{Config, Language, Profile, Tier};

/// How close (Jaro-Winkler, 0..1) an unknown name must be to a known one to be suggested.
/// 0.9 keeps `pyton` -> python but not `java` -> javascript or `haskell` -> shell.
const SUGGEST_THRESHOLD: f64 = 0.9;
/// How many suggestions `suggest_languages` returns at most.
const SUGGEST_MAX: usize = 3;

impl Config {
    /// The language called `name_or_alias` (its name or one of its aliases, case-insensitive).
    /// Returns the language's canonical name with it.
    pub fn find_language(&self, name_or_alias: &str) -> Option<(&str, &Language)> {
        let wanted = name_or_alias.trim();
        if wanted.is_empty() {
            return None;
        }
        // Names win over aliases so a language can never be shadowed by another's alias
        // (validation refuses such clashes anyway).
        self.languages
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .or_else(|| {
                self.languages
                    .iter()
                    .find(|(_, lang)| lang.aliases.iter().any(|a| a.eq_ignore_ascii_case(wanted)))
            })
            .map(|(name, lang)| (name.as_str(), lang))
    }

    /// The language whose extensions include that of `ext_or_filename`, which may be a bare
    /// extension (`py`, `.py`) or a file name (`analysis.py`, `dir/x.tar.py`). Case-insensitive.
    pub fn language_for_extension(&self, ext_or_filename: &str) -> Option<(&str, &Language)> {
        let s = ext_or_filename.trim();
        let ext = match s.rsplit_once('.') {
            Some((_, ext)) => ext,
            None => s,
        };
        // A path separator in the "extension" means the dot was in a directory name.
        if ext.is_empty() || ext.contains('/') {
            return None;
        }
        self.languages
            .iter()
            .find(|(_, lang)| {
                lang.extensions
                    .iter()
                    .any(|e| e.trim_start_matches('.').eq_ignore_ascii_case(ext))
            })
            .map(|(name, lang)| (name.as_str(), lang))
    }

    /// Canonical names of languages close to `unknown` (by name or alias), best match first,
    /// for "unknown language `pyhton`; did you mean python?".
    pub fn suggest_languages(&self, unknown: &str) -> Vec<String> {
        let wanted = unknown.trim().to_ascii_lowercase();
        if wanted.is_empty() {
            return Vec::new();
        }
        let mut scored: Vec<(f64, &str)> = self
            .languages
            .iter()
            .filter_map(|(name, lang)| {
                std::iter::once(name.as_str())
                    .chain(lang.aliases.iter().map(String::as_str))
                    .map(|candidate| {
                        let c = candidate.to_ascii_lowercase();
                        let jw = strsim::jaro_winkler(&wanted, &c);
                        // One edit away counts as close for short names (`jss` -> js), but
                        // not for two letters, where one edit reaches everything (`ts` -> rs).
                        let near =
                            wanted.len() >= 3 && strsim::damerau_levenshtein(&wanted, &c) <= 1;
                        if near {
                            jw.max(SUGGEST_THRESHOLD)
                        } else {
                            jw
                        }
                    })
                    .fold(None, |best: Option<f64>, s| {
                        Some(best.map_or(s, |b| b.max(s)))
                    })
                    .filter(|score| *score >= SUGGEST_THRESHOLD)
                    .map(|score| (score, name.as_str()))
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        scored
            .into_iter()
            .take(SUGGEST_MAX)
            .map(|(_, name)| name.to_string())
            .collect()
    }

    /// The profile called `name` (exact).
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.get(name)
    }

    /// The tier called `name` (exact).
    pub fn tier(&self, name: &str) -> Option<&Tier> {
        self.access.tiers.iter().find(|t| t.name == name)
    }

    /// `p` itself when absolute, otherwise `p` under `data_dir`.
    pub fn resolve_data_path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.data_dir.join(p)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;
    use std::path::{Path, PathBuf};

    fn cfg() -> Config {
        Config::embedded_default().expect("default config")
    }

    #[test]
    fn finds_by_name_and_alias_case_insensitively() {
        let c = cfg();
        assert_eq!(c.find_language("python").map(|l| l.0), Some("python"));
        assert_eq!(c.find_language("PY").map(|l| l.0), Some("python"));
        assert_eq!(c.find_language(" Python3 ").map(|l| l.0), Some("python"));
        assert_eq!(c.find_language("node").map(|l| l.0), Some("javascript"));
        assert_eq!(c.find_language("C++").map(|l| l.0), Some("cpp"));
        assert_eq!(c.find_language("cc").map(|l| l.0), Some("cpp"));
        assert_eq!(c.find_language("c").map(|l| l.0), Some("c"));
        assert!(c.find_language("cobol").is_none());
        assert!(c.find_language("").is_none());
    }

    #[test]
    fn finds_by_extension_or_file_name() {
        let c = cfg();
        assert_eq!(c.language_for_extension("py").map(|l| l.0), Some("python"));
        assert_eq!(c.language_for_extension(".PY").map(|l| l.0), Some("python"));
        assert_eq!(
            c.language_for_extension("analysis.py").map(|l| l.0),
            Some("python")
        );
        assert_eq!(
            c.language_for_extension("a.b.mjs").map(|l| l.0),
            Some("javascript")
        );
        assert_eq!(
            c.language_for_extension("main.cpp").map(|l| l.0),
            Some("cpp")
        );
        assert_eq!(c.language_for_extension("x.sh").map(|l| l.0), Some("sh"));
        assert!(c.language_for_extension("sales.csv").is_none());
        assert!(c.language_for_extension("dir.py/README").is_none());
        assert!(c.language_for_extension("noext.").is_none());
    }

    #[test]
    fn suggests_close_names_best_first() {
        let c = cfg();
        assert_eq!(
            c.suggest_languages("pyhton").first().map(String::as_str),
            Some("python")
        );
        assert_eq!(
            c.suggest_languages("jss").first().map(String::as_str),
            Some("javascript")
        );
        assert_eq!(
            c.suggest_languages("rust2").first().map(String::as_str),
            Some("rust")
        );
        assert!(c.suggest_languages("haskell").is_empty());
        assert!(c.suggest_languages("kotlin").is_empty());
        assert!(c.suggest_languages("zig").is_empty());
        assert!(c.suggest_languages("").is_empty());
        assert!(c.suggest_languages("pyhton").len() <= 3);
    }

    #[test]
    fn tiers_profiles_and_data_paths() {
        let c = cfg();
        assert!(c.tier("admin").is_some_and(|t| t.admin));
        assert!(c.tier("nobody").is_none());
        assert!(c.profile("privileged").is_some_and(|p| p.network));
        assert!(c.profile("Default").is_none());
        assert_eq!(
            c.resolve_data_path(Path::new("audit.sqlite")),
            c.data_dir.join("audit.sqlite")
        );
        assert_eq!(
            c.resolve_data_path(Path::new("/var/lib/x.db")),
            PathBuf::from("/var/lib/x.db")
        );
    }
}
