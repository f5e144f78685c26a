//! Composite ops: every public tensor op, built from the primitives in [`crate::ops`].

mod conv;
mod elementwise;
mod index;
mod linalg;
mod movement;
mod reduce;
