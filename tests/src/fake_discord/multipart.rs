//! Parses `multipart/form-data` request bodies (serenity's messages with files) into the
//! `payload_json` part and the uploaded files.

/// One uploaded file of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedFile {
    /// The form field, e.g. `files[0]`.
    pub field: String,
    pub filename: String,
    pub content: Vec<u8>,
}

/// The parts of a multipart body: `payload_json` (if any) and the files.
#[derive(Debug, Clone, Default)]
pub struct Multipart {
    pub payload_json: Option<serde_json::Value>,
    pub files: Vec<UploadedFile>,
}

/// The boundary of a `multipart/form-data; boundary=...` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    if !content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return None;
    }
    content_type.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.eq_ignore_ascii_case("boundary")
            .then(|| v.trim_matches('"').to_string())
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > haystack.len() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// The value of `key="..."` in a Content-Disposition header.
fn disposition_param(header: &str, key: &str) -> Option<String> {
    let pat = format!("{key}=\"");
    let start = header.find(&pat)? + pat.len();
    let end = header[start..].find('"')? + start;
    Some(header[start..end].to_string())
}

/// Split `body` on `boundary`.
pub fn parse(body: &[u8], boundary: &str) -> Multipart {
    let delimiter = format!("--{boundary}");
    let mut out = Multipart::default();
    let mut pos = match find(body, delimiter.as_bytes(), 0) {
        Some(p) => p + delimiter.len(),
        None => return out,
    };
    loop {
        // After a delimiter: "--" ends the body, otherwise CRLF and a part follows.
        if body.get(pos..pos + 2) == Some(b"--") {
            break;
        }
        let Some(head_end) = find(body, b"\r\n\r\n", pos) else {
            break;
        };
        let head = String::from_utf8_lossy(&body[pos..head_end]).to_string();
        let content_start = head_end + 4;
        let next =
            find(body, format!("\r\n{delimiter}").as_bytes(), content_start).unwrap_or(body.len());
        let content = body[content_start..next].to_vec();
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))
            .unwrap_or("");
        let field = disposition_param(disposition, "name").unwrap_or_default();
        match disposition_param(disposition, "filename") {
            Some(filename) => out.files.push(UploadedFile {
                field,
                filename,
                content,
            }),
            None if field == "payload_json" => {
                out.payload_json = serde_json::from_slice(&content).ok();
            }
            None => {}
        }
        pos = next + 2 + delimiter.len();
        if pos >= body.len() {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_payload_and_files() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"files[0]\"; filename=\"out.txt\"\r\n\
Content-Type: text/plain\r\n\r\nhello\r\n--XyZ\r\nContent-Disposition: form-data; name=\"payload_json\"\r\n\r\n\
{\"content\":\"hi\"}\r\n--XyZ--\r\n";
        let b = boundary("multipart/form-data; boundary=XyZ").expect("boundary");
        let m = parse(body, &b);
        assert_eq!(m.payload_json, Some(serde_json::json!({"content": "hi"})));
        assert_eq!(m.files.len(), 1);
        assert_eq!(m.files[0].filename, "out.txt");
        assert_eq!(m.files[0].field, "files[0]");
        assert_eq!(m.files[0].content, b"hello");
    }
}
