//! The font for text in PNG figures, embedded so no system font library is needed.

/// DejaVu Sans, subset to Latin, Greek, punctuation and math (110 KB; see
/// `engine/assets/fonts/README.md` for how it was made and its license).
const DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-subset.ttf");

/// The family name figures ask for; plotters' default for labels too.
pub(crate) const FAMILY: &str = "sans-serif";

/// Registers the embedded font with plotters under [`FAMILY`]. Called before each
/// render rather than once: registering is cheap (the bytes are borrowed, not
/// parsed in full) and needs no static of ours, and in a notebook each cell may
/// link its own copy of plotters, with its own font table.
pub(crate) fn register() {
    // Only fails on invalid font bytes, which a unit test rules out.
    let _ = plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, DEJAVU_SANS);
}

#[cfg(test)]
mod tests {
    #[test]
    fn embedded_font_is_valid() {
        assert!(
            plotters::style::register_font(super::FAMILY, plotters::style::FontStyle::Normal, super::DEJAVU_SANS)
                .is_ok()
        );
    }
}
