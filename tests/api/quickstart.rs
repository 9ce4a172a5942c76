//! The README's quick start, run as written.
