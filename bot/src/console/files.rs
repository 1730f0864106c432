//! Attachments in the console: local files named with `:attach PATH`, read within the limit.

use std::path::Path;
use std::sync::Arc;

use coderunner_commands::{AttachmentRef, AttachmentSource, FetchError};
use tokio::io::AsyncReadExt;

/// Reads the file at the attachment's locator (a path).
#[derive(Debug, Default)]
pub struct LocalFiles;

#[async_trait::async_trait]
impl AttachmentSource for LocalFiles {
    async fn fetch(&self, attachment: &AttachmentRef, limit: u64) -> Result<Vec<u8>, FetchError> {
        let failed = |reason: String| FetchError::Failed {
            name: attachment.name.clone(),
            reason,
        };
        let file = tokio::fs::File::open(&attachment.locator)
            .await
            .map_err(|e| failed(e.to_string()))?;
        // The file may have grown since `:attach`; read one byte past the limit to notice.
        let mut bytes = Vec::new();
        file.take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| failed(e.to_string()))?;
        if bytes.len() as u64 > limit {
            return Err(FetchError::TooLarge {
                name: attachment.name.clone(),
                size: bytes.len() as u64,
                limit,
            });
        }
        Ok(bytes)
    }
}

/// An attachment for the local file `path`, or why it cannot be attached.
pub fn attach(path: &Path) -> Result<AttachmentRef, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot attach {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!(
            "cannot attach {}: not a regular file",
            path.display()
        ));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_string());
    Ok(AttachmentRef {
        name,
        size: meta.len(),
        locator: path.display().to_string(),
        source: Arc::new(LocalFiles),
    })
}
