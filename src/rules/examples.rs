//! The fixed instant rule examples are judged at. Running the examples is
//! the engine's job ([`crate::engine::examples`]): `rules` never reaches up
//! into the matcher or the CLI.

/// Examples are judged at a fixed instant so certificate expiry examples do
/// not change outcome with the calendar: 2026-01-01T00:00:00Z.
pub fn example_now() -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600)
}
