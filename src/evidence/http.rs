//! HTTP responses: `curl -v` transcripts, raw header blocks, single header lines.

use super::HttpResponse;

/// Parses a transcript or header block; `None` when it holds no response.
pub fn parse(text: &str) -> Option<HttpResponse> {
    let _ = text;
    None
}

/// `true` when the text looks like a curl transcript or a header block.
pub fn looks_like(text: &str) -> bool {
    let _ = text;
    false
}
