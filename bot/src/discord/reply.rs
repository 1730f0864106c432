//! Turns a pipeline `Reply` into something Discord accepts: mentions neutralised, at most 2,000
//! characters, at most 10 files within the upload limit, and a note saying what did not fit.

use coderunner_commands::{Reply, ReplyFile};
use poise::serenity_prelude as serenity;

/// Discord's hard cap on message content.
pub(crate) const MAX_CHARS: usize = 2000;
/// Discord's cap on attachments per message.
pub(crate) const MAX_FILES: usize = 10;

/// The limits one message must respect.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReplyLimits {
    pub max_chars: usize,
    pub max_files: usize,
    /// Total bytes of all attachments of one message.
    pub upload_limit: u64,
}

/// A message ready to post: content within limits and the files that fit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Outgoing {
    pub content: String,
    pub files: Vec<ReplyFile>,
}

impl Outgoing {
    /// A text-only message (status lines, refusals); still neutralised and capped.
    pub fn text(content: impl Into<String>, limits: &ReplyLimits) -> Self {
        fit(
            Reply {
                content: content.into(),
                files: Vec::new(),
            },
            limits,
        )
    }

    /// As a poise reply, answering the invoking message, pinging nobody.
    pub fn to_poise(&self) -> poise::CreateReply {
        let mut reply = poise::CreateReply::default()
            .content(self.content.clone())
            .allowed_mentions(no_mentions())
            .reply(true);
        for file in &self.files {
            reply = reply.attachment(attachment(file));
        }
        reply
    }

    /// As a new channel message replying to `reference`.
    pub fn to_message(
        &self,
        reference: Option<serenity::MessageReference>,
    ) -> serenity::CreateMessage {
        let mut msg = serenity::CreateMessage::new()
            .content(self.content.clone())
            .allowed_mentions(no_mentions());
        if let Some(reference) = reference {
            msg = msg.reference_message(reference);
        }
        msg.add_files(self.files.iter().map(attachment))
    }

    /// As an edit that replaces everything the message had.
    pub fn to_edit(&self) -> serenity::EditMessage {
        let mut edit = serenity::EditMessage::new()
            .content(self.content.clone())
            .allowed_mentions(no_mentions())
            .remove_all_attachments();
        for file in &self.files {
            edit = edit.new_attachment(attachment(file));
        }
        edit
    }
}

/// Nobody is pinged, not even the author being replied to.
pub(crate) fn no_mentions() -> serenity::CreateAllowedMentions {
    serenity::CreateAllowedMentions::new()
        .everyone(false)
        .all_users(false)
        .all_roles(false)
        .replied_user(false)
}

fn attachment(file: &ReplyFile) -> serenity::CreateAttachment {
    serenity::CreateAttachment::bytes(file.content.clone(), file.name.clone())
}

/// Make mention syntax inert even where a client might render it: a zero-width space after `@`
/// in `@everyone`/`@here` and inside `<@…>`/`<@&…>`. `allowed_mentions` already stops pings;
/// this keeps the text from looking like one and from pinging if it is ever copied and re-sent.
pub(crate) fn neutralise(text: &str) -> String {
    const ZWSP: &str = "\u{200B}";
    text.replace("@everyone", &format!("@{ZWSP}everyone"))
        .replace("@here", &format!("@{ZWSP}here"))
        .replace("<@", &format!("<@{ZWSP}"))
}

fn human_size(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", bytes as f64 / MIB)
    } else if bytes >= 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

/// Cut `text` to at most `max` characters, closing a code block the cut left open.
fn cut(text: &str, max: usize) -> String {
    const MARK: &str = "\n… (cut to fit Discord's 2,000 characters)";
    if text.chars().count() <= max {
        return text.to_string();
    }
    let closer = "\n```";
    let keep = max.saturating_sub(MARK.chars().count() + closer.len());
    let mut out: String = text.chars().take(keep).collect();
    if out.matches("```").count() % 2 == 1 {
        out.push_str(closer);
    }
    out.push_str(MARK);
    out
}

/// Fit a reply into one Discord message.
pub(crate) fn fit(reply: Reply, limits: &ReplyLimits) -> Outgoing {
    let mut files = Vec::new();
    let mut left_out = Vec::new();
    let mut total: u64 = 0;
    for file in reply.files {
        let size = file.content.len() as u64;
        if files.len() < limits.max_files && total + size <= limits.upload_limit {
            total += size;
            files.push(file);
        } else {
            left_out.push(format!("{} ({})", neutralise(&file.name), human_size(size)));
        }
    }
    let note = if left_out.is_empty() {
        String::new()
    } else {
        let mut note = format!(
            "\n-# Not attached (Discord allows {} files and {} per message): {}",
            limits.max_files,
            human_size(limits.upload_limit),
            left_out.join(", ")
        );
        if note.chars().count() > limits.max_chars / 4 {
            note = format!(
                "\n-# {} files were not attached (Discord allows {} files and {} per message).",
                left_out.len(),
                limits.max_files,
                human_size(limits.upload_limit)
            );
        }
        note
    };
    let budget = limits.max_chars.saturating_sub(note.chars().count());
    let mut content = cut(&neutralise(&reply.content), budget);
    content.push_str(&note);
    if content.trim().is_empty() && files.is_empty() {
        // Discord refuses an empty message.
        content = "(no output)".to_string();
    }
    Outgoing { content, files }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ReplyLimits = ReplyLimits {
        max_chars: MAX_CHARS,
        max_files: MAX_FILES,
        upload_limit: 1000,
    };

    fn file(name: &str, size: usize) -> ReplyFile {
        ReplyFile {
            name: name.into(),
            mime: "text/plain".into(),
            content: vec![b'x'; size],
        }
    }

    #[test]
    fn mentions_are_neutralised() {
        let out = fit(
            Reply {
                content: "@everyone @here <@123> <@&456> <@!789>".into(),
                files: vec![],
            },
            &LIMITS,
        );
        assert!(!out.content.contains("@everyone"));
        assert!(!out.content.contains("@here"));
        assert!(
            !out.content.contains("<@1")
                && !out.content.contains("<@&")
                && !out.content.contains("<@!")
        );
        assert!(out.content.contains("everyone"), "the text stays readable");
    }

    #[test]
    fn long_content_is_cut_below_2000_chars_and_the_code_block_closed() {
        let content = format!("```\n{}\n```", "é".repeat(5000));
        let out = fit(
            Reply {
                content,
                files: vec![],
            },
            &LIMITS,
        );
        assert!(
            out.content.chars().count() <= MAX_CHARS,
            "{}",
            out.content.chars().count()
        );
        assert_eq!(out.content.matches("```").count() % 2, 0, "fence left open");
        assert!(out.content.contains("cut to fit"));
    }

    #[test]
    fn files_past_ten_or_the_upload_limit_are_left_out_with_a_note() {
        let mut files: Vec<ReplyFile> = (0..12).map(|i| file(&format!("f{i}.txt"), 10)).collect();
        files.insert(0, file("huge.bin", 2000));
        let out = fit(
            Reply {
                content: "ok".into(),
                files,
            },
            &LIMITS,
        );
        assert_eq!(out.files.len(), MAX_FILES);
        assert!(out.files.iter().all(|f| f.name != "huge.bin"));
        assert!(
            out.content.contains("huge.bin (2.0 KiB)"),
            "{}",
            out.content
        );
        assert!(out.content.contains("f10.txt") && out.content.contains("f11.txt"));
        assert!(out.content.chars().count() <= MAX_CHARS);
    }

    #[test]
    fn an_empty_reply_still_says_something() {
        let out = fit(Reply::default(), &LIMITS);
        assert!(!out.content.is_empty());
    }

    #[test]
    fn allowed_mentions_serialise_as_empty() {
        let json = serde_json::to_value(no_mentions()).expect("serialise");
        assert_eq!(json["parse"], serde_json::json!([]));
        assert_eq!(json["users"], serde_json::json!([]));
        assert_eq!(json["roles"], serde_json::json!([]));
        assert_eq!(json["replied_user"], serde_json::json!(false));
    }
}
