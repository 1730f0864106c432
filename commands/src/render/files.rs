//! Which files go with a reply: the full log and the program's output files, within the limits.

use coderunner_runner::OutputFile;

use crate::attachments::{sanitize_name, unique_name};
use crate::fmt;
use crate::ReplyFile;

/// Limits on what one reply may carry.
#[derive(Debug, Clone, Copy)]
pub struct FileLimits {
    pub max_files: usize,
    pub max_file_bytes: u64,
    pub total_bytes: u64,
}

/// Files that made it, and a note per skipped file saying why.
#[derive(Debug, Default)]
pub struct Picked {
    pub files: Vec<ReplyFile>,
    pub skipped: Vec<String>,
}

/// The log (when given) first, then output files in order, each within the limits.
pub fn pick(log: Option<ReplyFile>, outputs: &[OutputFile], limits: FileLimits) -> Picked {
    let mut picked = Picked::default();
    let mut total = 0u64;
    let mut names: Vec<String> = Vec::new();
    if let Some(log) = log {
        // The log can be larger than one file may be; keep its head rather than lose it all.
        let mut log = log;
        if log.content.len() as u64 > limits.max_file_bytes {
            log.content.truncate(limits.max_file_bytes as usize);
        }
        total += log.content.len() as u64;
        names.push(log.name.clone());
        picked.files.push(log);
    }
    for file in outputs {
        let shown = display_name(&file.path);
        let why = if file.content.len() as u64 != file.size {
            Some("its content was not returned".to_string())
        } else if picked.files.len() >= limits.max_files {
            Some(format!(
                "a reply carries at most {} files",
                limits.max_files
            ))
        } else if file.size > limits.max_file_bytes {
            Some(format!(
                "{}, over the {} per-file limit",
                fmt::bytes(file.size),
                fmt::bytes(limits.max_file_bytes)
            ))
        } else if total + file.size > limits.total_bytes {
            Some(format!(
                "{}, the reply would pass its {} upload limit",
                fmt::bytes(file.size),
                fmt::bytes(limits.total_bytes)
            ))
        } else {
            None
        };
        match why {
            Some(why) => picked.skipped.push(format!("{shown} ({why})")),
            None => {
                let name = unique_name(sanitize_name(&file.path.replace('/', "_")), &names);
                names.push(name.clone());
                total += file.size;
                picked.files.push(ReplyFile {
                    name,
                    mime: file.mime.clone(),
                    content: file.content.clone(),
                });
            }
        }
    }
    picked
}

/// A file name safe to show in a chat line: short, neutralised, in backticks.
fn display_name(path: &str) -> String {
    let short = super::text::cut_chars(path, 60);
    format!("`{}`", super::text::neutralize(short).replace('`', "'"))
}
