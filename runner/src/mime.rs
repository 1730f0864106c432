//! A small MIME guesser for output files: magic bytes first, then the extension, then text vs
//! binary. No heavy crate: these cover what programs in a chat usually write.

/// Guess the MIME type of a file from its name and content.
pub fn guess_mime(name: &str, content: &[u8]) -> &'static str {
    if let Some(m) = by_magic(content) {
        return m;
    }
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if let Some(m) = by_extension(&ext) {
        return m;
    }
    if std::str::from_utf8(content).is_ok() {
        "text/plain"
    } else {
        "application/octet-stream"
    }
}

fn by_magic(c: &[u8]) -> Option<&'static str> {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"%PDF-", "application/pdf"),
        (b"PK\x03\x04", "application/zip"),
        (b"\x1f\x8b", "application/gzip"),
        (b"BZh", "application/x-bzip2"),
        (b"\xfd7zXZ\x00", "application/x-xz"),
        (b"\x7fELF", "application/x-executable"),
        (b"SQLite format 3\x00", "application/vnd.sqlite3"),
        (b"OggS", "audio/ogg"),
        (b"ID3", "audio/mpeg"),
        (b"fLaC", "audio/flac"),
        (b"\x00\x00\x01\x00", "image/x-icon"),
        (b"BM", "image/bmp"),
    ];
    if c.len() >= 12 && &c[..4] == b"RIFF" {
        match &c[8..12] {
            b"WEBP" => return Some("image/webp"),
            b"WAVE" => return Some("audio/wav"),
            _ => {}
        }
    }
    MAGIC
        .iter()
        .find(|(m, _)| c.starts_with(m))
        .map(|(_, t)| *t)
}

fn by_extension(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "txt" | "log" | "text" => "text/plain",
        "md" => "text/markdown",
        "csv" => "text/csv",
        "tsv" => "text/tab-separated-values",
        "json" => "application/json",
        "xml" => "application/xml",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "js" | "mjs" => "text/javascript",
        "py" => "text/x-python",
        "svg" => "image/svg+xml",
        "yaml" | "yml" => "application/yaml",
        "toml" => "application/toml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "npy" => "application/octet-stream",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::guess_mime;

    #[test]
    fn magic_beats_extension_and_text_is_detected() {
        assert_eq!(
            guess_mime("plot.txt", b"\x89PNG\r\n\x1a\n...."),
            "image/png"
        );
        assert_eq!(guess_mime("data.csv", b"a,b\n1,2\n"), "text/csv");
        assert_eq!(guess_mime("notes", "héllo".as_bytes()), "text/plain");
        assert_eq!(
            guess_mime("blob", &[0xff, 0x00, 0xfe]),
            "application/octet-stream"
        );
        assert_eq!(guess_mime("x.svg", b"<svg/>"), "image/svg+xml");
        assert_eq!(guess_mime("a.webp", b"RIFF\0\0\0\0WEBPVP8 "), "image/webp");
    }
}
