//! Local file-system backend.
