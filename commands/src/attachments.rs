//! Attachments: choosing the program among them, fetching them within limits, safe file names.

use coderunner_runner::InputFile;

use crate::fmt;
use crate::refusal::Refusal;
use crate::AttachmentRef;

/// Attachments taken from one message at most (Discord allows 10).
pub const MAX_ATTACHMENTS: usize = 10;
/// Longest file name kept.
const MAX_NAME_CHARS: usize = 100;
/// How much of a source file is inspected for NUL bytes.
const BINARY_SNIFF: usize = 8192;

/// A file name that is safe in the working directory and in a reply: the last path component,
/// only `A-Z a-z 0-9 . _ -`, no leading dot, at most 100 characters, never empty.
pub fn sanitize_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let mut out = String::with_capacity(base.len());
    for c in base.chars() {
        let keep = c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        let c = if keep { c } else { '_' };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    let trimmed = out.trim_start_matches(['.', '_']).to_string();
    let mut name = if trimmed.is_empty() || trimmed.chars().all(|c| c == '.') {
        "file".to_string()
    } else {
        trimmed
    };
    if name.len() > MAX_NAME_CHARS {
        // Keep the extension: it decides the language.
        let ext = name
            .rsplit_once('.')
            .map(|(_, e)| e.to_string())
            .filter(|e| e.len() <= 10);
        let keep = MAX_NAME_CHARS - ext.as_ref().map_or(0, |e| e.len() + 1);
        let mut short: String = name.chars().take(keep).collect();
        if let Some(e) = ext {
            short.push('.');
            short.push_str(&e);
        }
        name = short;
    }
    name
}

/// `name`, or `stem-2.ext`, `stem-3.ext`... when already taken.
pub fn unique_name(name: String, taken: &[String]) -> String {
    if !taken.contains(&name) {
        return name;
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
        _ => (name.clone(), String::new()),
    };
    (2..)
        .map(|i| format!("{stem}-{i}{ext}"))
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or(name)
}

/// The program attachment and the data files, fetched.
#[derive(Debug, Default)]
pub struct Fetched {
    /// The program's (sanitised) file name and source, when it came from an attachment.
    pub program: Option<(String, String)>,
    pub data: Vec<InputFile>,
}

/// Refuse too many attachments before anything else is looked at.
pub fn check_count(attachments: &[AttachmentRef]) -> Result<(), Refusal> {
    if attachments.len() > MAX_ATTACHMENTS {
        return Err(Refusal::bad_request(format!(
            "{} attachments is too many; attach at most {MAX_ATTACHMENTS}",
            attachments.len()
        )));
    }
    Ok(())
}

/// The checks that need no download: how many attachments, and the sizes the platform declared.
/// Done before a run queues, so a hopeless message is refused at once.
pub fn check_declared(
    attachments: &[AttachmentRef],
    per_file: u64,
    total: u64,
) -> Result<(), Refusal> {
    check_count(attachments)?;
    let mut declared = 0u64;
    for a in attachments {
        if a.size > per_file {
            return Err(too_large(&a.name, a.size, per_file));
        }
        declared = declared.saturating_add(a.size);
    }
    if declared > total {
        return Err(Refusal::bad_request(format!(
            "the attachments add up to {}, more than the {} a run's working directory holds; attach less",
            fmt::bytes(declared),
            fmt::bytes(total)
        )));
    }
    Ok(())
}

/// Fetch every attachment; `program` (an index) must be source text. `per_file` caps each file
/// and `total` all of them together; declared sizes are checked before anything is downloaded.
pub async fn fetch_all(
    attachments: &[AttachmentRef],
    program: Option<usize>,
    per_file: u64,
    total: u64,
    reserved_names: &[String],
) -> Result<Fetched, Refusal> {
    check_declared(attachments, per_file, total)?;
    let mut fetched = Fetched::default();
    let mut taken: Vec<String> = reserved_names.to_vec();
    let mut used = 0u64;
    for (i, a) in attachments.iter().enumerate() {
        let limit = per_file.min(total.saturating_sub(used));
        let bytes = a.source.fetch(a, limit).await.map_err(|e| match e {
            crate::FetchError::TooLarge { size, .. } => too_large(&a.name, size, limit),
            crate::FetchError::Failed { reason, .. } => Refusal::bad_request(format!(
                "I could not download `{}`: {reason}; try attaching it again",
                shown(&a.name)
            )),
        })?;
        // The source promised to stop at `limit`; do not trust it blindly.
        if bytes.len() as u64 > limit {
            return Err(too_large(&a.name, bytes.len() as u64, limit));
        }
        used += bytes.len() as u64;
        let name = unique_name(sanitize_name(&a.name), &taken);
        taken.push(name.clone());
        if Some(i) == program {
            let code = source_text(&a.name, bytes)?;
            fetched.program = Some((name, code));
        } else {
            fetched.data.push(InputFile {
                path: name,
                content: bytes,
            });
        }
    }
    Ok(fetched)
}

/// Source code must be text: binaries and non-UTF-8 files are refused with the reason.
pub fn source_text(name: &str, bytes: Vec<u8>) -> Result<String, Refusal> {
    let head = &bytes[..bytes.len().min(BINARY_SNIFF)];
    if head.contains(&0) || head.starts_with(b"\x7fELF") {
        return Err(Refusal::bad_request(format!(
            "`{}` looks like a binary file (it contains NUL bytes), not source code; attach the source file instead",
            shown(name)
        )));
    }
    let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let raw = e.as_bytes();
        let line = raw[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        Refusal::bad_request(format!(
            "`{}` is not UTF-8 text (byte 0x{:02X} on line {line} is not valid UTF-8); save it as UTF-8 and attach it again",
            shown(name),
            raw.get(at).copied().unwrap_or(0)
        ))
    })
}

fn too_large(name: &str, size: u64, limit: u64) -> Refusal {
    Refusal::bad_request(format!(
        "`{}` is {}, over the {} limit per file; attach a smaller file",
        shown(name),
        fmt::bytes(size),
        fmt::bytes(limit)
    ))
}

/// A user-given name as it may appear in a reply.
fn shown(name: &str) -> String {
    sanitize_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitised() {
        assert_eq!(sanitize_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_name("C:\\x\\My File (1).py"), "My_File_1_.py");
        assert_eq!(sanitize_name(".bashrc"), "bashrc");
        assert_eq!(sanitize_name(".."), "file");
        assert_eq!(sanitize_name(""), "file");
        assert_eq!(sanitize_name("@everyone`.txt"), "everyone_.txt");
        assert_eq!(sanitize_name("a\u{202E}gpj.exe"), "a_gpj.exe");
        let long = format!("{}.csv", "x".repeat(300));
        let s = sanitize_name(&long);
        assert_eq!(s.len(), MAX_NAME_CHARS);
        assert!(s.ends_with(".csv"));
    }

    #[test]
    fn unique_names() {
        let taken = vec!["a.py".to_string(), "a-2.py".to_string()];
        assert_eq!(unique_name("a.py".into(), &taken), "a-3.py");
        assert_eq!(unique_name("b.py".into(), &taken), "b.py");
    }

    #[test]
    fn binary_and_non_utf8_are_refused() {
        let e = source_text("x.py", b"\x7fELF\x02\x01\x00\x00".to_vec()).expect_err("refused");
        assert!(e.message.contains("binary"), "{}", e.message);
        let e = source_text("x.py", b"print(1)\nprint('caf\xe9')\n".to_vec()).expect_err("refused");
        assert!(e.message.contains("not UTF-8"), "{}", e.message);
        assert!(e.message.contains("line 2"), "{}", e.message);
        assert!(e.message.contains("0xE9"), "{}", e.message);
        assert_eq!(
            source_text("x.py", b"\xEF\xBB\xBFprint(1)\n".to_vec()).ok(),
            Some("print(1)\n".to_string())
        );
    }
}
