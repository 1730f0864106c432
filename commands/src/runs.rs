//! `!runs [N]`: recent audit rows as a short list for admins.

use crate::access;
use crate::audit::AuditRow;
use crate::fmt;
use crate::pipeline::Pipeline;
use crate::render::{cut_chars, neutralize, MAX_REPLY_CHARS};
use crate::{Identity, Place, Refusal};

impl Pipeline {
    pub(crate) fn runs(&self, who: &Identity, place: &Place, count: Option<usize>) -> String {
        let tier = match access::tier_for(&self.inner.config, who, place) {
            Ok(t) => t,
            Err(r) => return r.chat_line(),
        };
        if !tier.admin {
            return Refusal::not_allowed(format!(
                "`{}runs` is for admins, and your tier is `{}`",
                self.inner.config.discord.prefix, tier.name
            ))
            .chat_line();
        }
        match self.inner.audit.recent(count.unwrap_or(10).clamp(1, 25)) {
            Ok(rows) => render(&rows),
            Err(e) => {
                tracing::error!(error = %e, "reading the audit log failed");
                "⚠️ could not read the audit log; see the bot's log".to_string()
            }
        }
    }
}

/// The list, newest first, within one message.
pub fn render(rows: &[AuditRow]) -> String {
    if rows.is_empty() {
        return "📋 no runs recorded yet".to_string();
    }
    let mut out = format!(
        "📋 last {} (newest first, UTC):",
        fmt::plural(rows.len(), "entry", "entries")
    );
    for row in rows {
        let r = &row.record;
        let who = neutralize(cut_chars(&r.user_name, 32));
        let lang = r.language.as_deref().unwrap_or("-");
        let what = if r.status == "refused" {
            format!(
                "refused ({}): {}",
                r.refusal_kind.as_deref().unwrap_or("?"),
                neutralize(cut_chars(r.refusal_reason.as_deref().unwrap_or(""), 80))
            )
        } else {
            let mut s = r.status.clone();
            if let Some(code) = r.exit_code {
                s.push_str(&format!(" {code}"));
            }
            if let Some(sig) = &r.signal {
                s.push_str(&format!(" {sig}"));
            }
            if let Some(ms) = r.wall_ms {
                s.push_str(&format!(" · {}", fmt::millis(ms)));
            }
            if r.truncated {
                s.push_str(" · cut");
            }
            s
        };
        let privileged = if r.privileged { " · privileged" } else { "" };
        let line = format!(
            "\n`#{}` {} · {} ({}) · {} · {}{}",
            row.id,
            timestamp(row.at_ms),
            who,
            r.tier.as_deref().unwrap_or("-"),
            lang,
            what,
            privileged
        );
        if out.chars().count() + line.chars().count() > MAX_REPLY_CHARS - 20 {
            out.push_str("\n…");
            break;
        }
        out.push_str(&line);
    }
    out
}

/// "MM-DD HH:MM:SS" in UTC from Unix milliseconds.
fn timestamp(at_ms: i64) -> String {
    let secs = at_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (_, month, day) = civil_from_days(days);
    format!(
        "{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::timestamp;

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "01-01 00:00:00");
        // 2026-11-26 05:04:07 UTC
        assert_eq!(timestamp(1_795_669_447_000), "11-26 05:04:07");
    }
}
