//! Backends: they implement only the primitives of [`crate::ops`], as kernels of a [`crate::schedule::Schedule`].

pub mod cpu;
