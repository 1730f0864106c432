//! Reading back PNG files the bot returned: the signature and the pixel size from the IHDR chunk.

/// The 8 bytes every PNG file starts with.
pub const SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// Width and height from a PNG's IHDR chunk. Panics (failing the test) when `bytes` does not
/// start with the PNG signature followed by an IHDR chunk.
pub fn dimensions(bytes: &[u8]) -> (u32, u32) {
    assert!(
        bytes.len() > 24,
        "too short for a PNG: {} bytes",
        bytes.len()
    );
    assert_eq!(&bytes[..8], SIGNATURE, "PNG signature");
    // The IHDR chunk is always first: length (4), type (4), width (4), height (4).
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk is IHDR");
    let w = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
    let h = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    (w, h)
}
